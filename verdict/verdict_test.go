package verdict_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trellis-authz/trellis/verdict"
)

func TestIs(t *testing.T) {
	bad := verdict.New("bad input")
	other := verdict.New("bad input")
	failure := errors.New("disk on fire")
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"sentinel", bad, true},
		{"wrapped", fmt.Errorf("field x: %w", bad), true},
		{"joined with a failure", errors.Join(failure, bad), true},
		{"failure", failure, false},
		{"wrapped failure", fmt.Errorf("x: %w", failure), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := verdict.Is(c.err); got != c.want {
			t.Errorf("%s: Is(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	if errors.Is(bad, other) {
		t.Errorf("two sentinels with the same text must stay distinct for errors.Is")
	}
	if !errors.Is(fmt.Errorf("w: %w", bad), bad) {
		t.Errorf("a wrapped sentinel must still match itself")
	}
}
