package consensus

import (
	"encoding/json"
	"fmt"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/storage"
)

// AlertLetterCommand adds a dead letter (a delivery whose attempts ran out)
// or removes one by id (it was retried and delivered, or dropped). The list
// is replicated so that every node shows it and a new leader can retry it;
// it has no audit entry (letters carry no secret, and what they report is
// already in the log).
type AlertLetterCommand struct {
	Meta
	Add    *alerts.Letter
	Remove string
}

func (*AlertLetterCommand) Type() CommandType { return TypeAlertLetter }
func (c *AlertLetterCommand) Header() *Meta   { return &c.Meta }

// MaxAlertLetters bounds the dead-letter list; past it the oldest letter is
// dropped (and the node that adds logs it).
const MaxAlertLetters = 1000

var alertLettersKey = []byte("alerts\x00failed")

type wireAlertLetter struct {
	Meta   Meta           `json:"meta"`
	Add    *alerts.Letter `json:"add,omitempty"`
	Remove string         `json:"remove,omitempty"`
}

func decodeAlertLetter(b []byte) (Command, error) {
	var w wireAlertLetter
	if err := strictUnmarshal(b, &w); err != nil {
		return nil, err
	}
	return &AlertLetterCommand{Meta: w.Meta, Add: w.Add, Remove: w.Remove}, nil
}

func (a *applier) applyAlertLetter(index uint64, c Command) (WriteResult, error) {
	_, changed, err := a.nextLetters(c.(*AlertLetterCommand))
	if err != nil {
		return WriteResult{}, &fatalError{err}
	}
	return a.commit(index, c, storage.Batch{}, func(r storage.Result) WriteResult {
		return WriteResult{Revision: r.Revision, Changed: changed}
	}, "")
}

// nextLetters is the list after lc: without the letter it removes (or an
// older copy of the one it adds), with the one it adds last, at most
// MaxAlertLetters; changed counts letters added or removed.
func (a *applier) nextLetters(lc *AlertLetterCommand) (out []alerts.Letter, changed int, err error) {
	letters, err := AlertLetters(a.store)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the alert dead letters: %w", err)
	}
	for _, l := range letters {
		if l.ID != lc.Remove && (lc.Add == nil || l.ID != lc.Add.ID) {
			out = append(out, l)
		}
	}
	changed = len(letters) - len(out)
	if lc.Add != nil {
		out, changed = append(out, *lc.Add), 1
	}
	if len(out) > MaxAlertLetters {
		out = out[len(out)-MaxAlertLetters:]
	}
	return out, changed, nil
}

// alertLetterExtra is the list an alert letter command leaves.
func (a *applier) alertLetterExtra(c Command) (storage.KV, bool) {
	lc, ok := c.(*AlertLetterCommand)
	if !ok {
		return storage.KV{}, false
	}
	out, _, err := a.nextLetters(lc)
	if err != nil {
		return storage.KV{}, false
	}
	if out == nil {
		out = []alerts.Letter{}
	}
	v, err := json.Marshal(out)
	if err != nil {
		return storage.KV{}, false
	}
	return storage.KV{Key: append([]byte{}, alertLettersKey...), Value: v}, true
}

// AlertLetters returns the dead letters, oldest first.
func AlertLetters(s ExtraReader) ([]alerts.Letter, error) {
	var out []alerts.Letter
	b, ok, err := s.Extra(alertLettersKey)
	if err != nil || !ok {
		return out, err
	}
	return out, json.Unmarshal(b, &out)
}
