package validation

import (
	"context"
	"strings"
	"testing"
)

func updateOnce(t *testing.T, text string) string {
	t.Helper()
	f, err := Parse("p.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), f, Options{Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Update([]byte(text), rep)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

const commented = `# Head comment of the file.
schema: |-
  definition user {}
  definition document {
    relation writer: user
    relation reader: user
    permission edit = writer
    permission view = reader + edit
  }
# The data.
relationships: |-
  // tom writes
  document:plan#writer@user:tom
  document:plan#reader@user:fred
assertions:
  assertTrue:
    - document:plan#view@user:tom # tom can view
  assertFalse:
    - document:plan#edit@user:fred
# What each permission grants.
validation:
  # view: readers and writers
  document:plan#view:
    - "[user:nobody] is <document:plan#reader>"
  document:plan#edit: []
`

func TestUpdateKeepsTheRestAndIsIdempotent(t *testing.T) {
	once := updateOnce(t, commented)
	wantBlock := `validation:
  # view: readers and writers
  document:plan#view:
    - "[user:fred] is <document:plan#reader>"
    - "[user:tom] is <document:plan#writer>"
  document:plan#edit:
    - "[user:tom] is <document:plan#writer>"
`
	head, block, ok := strings.Cut(once, "validation:\n")
	if !ok || "validation:\n"+block != wantBlock {
		t.Errorf("got block\n%s\nwant\n%s", "validation:\n"+block, wantBlock)
	}
	origHead, _, _ := strings.Cut(commented, "validation:\n")
	if head != origHead {
		t.Errorf("the rest of the file changed:\ngot\n%s\nwant\n%s", head, origHead)
	}
	if twice := updateOnce(t, once); twice != once {
		t.Errorf("second update changed the file:\nfirst\n%s\nsecond\n%s", once, twice)
	}
	// The updated file passes.
	f, err := Parse("p.yaml", []byte(once))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), f, Options{})
	if err != nil || !rep.Passed {
		t.Errorf("got %v, passed=%v; want the updated file to pass", err, rep != nil && rep.Passed)
	}
}

func TestUpdateAddsABlock(t *testing.T) {
	text, _, _ := strings.Cut(commented, "# What each permission grants.\n")
	once := updateOnce(t, text)
	if !strings.HasPrefix(once, text) {
		t.Errorf("got\n%s\nwant it to start with the file unchanged", once)
	}
	want := `validation:
  document:plan#view:
    - "[user:fred] is <document:plan#reader>"
    - "[user:tom] is <document:plan#writer>"
  document:plan#edit:
    - "[user:tom] is <document:plan#writer>"
`
	if got := strings.TrimPrefix(once, text); got != want {
		t.Errorf("got added block\n%s\nwant\n%s", got, want)
	}
	if twice := updateOnce(t, once); twice != once {
		t.Errorf("second update changed the file:\n%s", twice)
	}
}

// TestUpdateEmptyEntry: a permission nobody has is written as [] and read
// back as an empty list.
func TestUpdateEmptyEntry(t *testing.T) {
	text := strings.Replace(commented, "  document:plan#edit: []\n", "  document:other#edit:\n    - \"[user:tom]\"\n", 1)
	once := updateOnce(t, text)
	if !strings.HasSuffix(once, "  document:other#edit: []\n") {
		t.Errorf("got\n%s\nwant the entry emptied to []", once)
	}
	f, err := Parse("p.yaml", []byte(once))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), f, Options{})
	if err != nil || !rep.Passed {
		t.Errorf("got %v, want the updated file to pass", err)
	}
}
