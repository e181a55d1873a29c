package main

import (
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"slices"
	"testing"
)

// TestReadPages drives readPages with a fake server of 2*cliPageSize+3 items
// served in pages: every item once, in order; later pages pinned to the first
// page's revision; the limit respected; errors passed through.
func TestReadPages(t *testing.T) {
	total := 2*cliPageSize + 3
	items := make([]int, total)
	for i := range items {
		items[i] = i
	}
	type call struct {
		size   int
		cursor string
		cons   *wire.Consistency
	}
	var calls []call
	fetch := func(size int, cursor string, cons *wire.Consistency) ([]int, string, string, error) {
		calls = append(calls, call{size, cursor, cons})
		start := 0
		if cursor != "" {
			fmt.Sscanf(cursor, "c%d", &start)
		}
		end := min(start+size, total)
		next := ""
		if end < total {
			next = fmt.Sprintf("c%d", end)
		}
		return items[start:end], next, fmt.Sprintf("t1.rev%d", len(calls)), nil
	}

	got, readAt, err := readPages(nil, 0, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, items) {
		t.Errorf("got %d items, want all %d in order", len(got), total)
	}
	if readAt != "t1.rev1" || len(calls) != 3 {
		t.Errorf("got read_at %s after %d calls, want t1.rev1 after 3", readAt, len(calls))
	}
	for i, c := range calls[1:] {
		if c.cons == nil || c.cons.Mode != wire.AtExactSnapshot || c.cons.Token != "t1.rev1" {
			t.Errorf("page %d: got consistency %+v, want at_exact_snapshot t1.rev1", i+2, c.cons)
		}
	}

	calls = nil
	got, _, err = readPages(nil, cliPageSize+1, fetch)
	if err != nil || len(got) != cliPageSize+1 || calls[1].size != 1 {
		t.Errorf("limit %d: got %d items (err %v), second page size %d; want exactly the limit, asking for 1 more", cliPageSize+1, len(got), err, calls[1].size)
	}

	boom := errors.New("boom")
	if _, _, err := readPages(nil, 0, func(int, string, *wire.Consistency) ([]int, string, string, error) { return nil, "", "", boom }); !errors.Is(err, boom) {
		t.Errorf("got %v, want the fetch error", err)
	}
}
