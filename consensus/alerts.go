package consensus

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/verdict"
)

// AlertsCommand replaces the alert rule set (docs/alerts.md, ADR 0012). The
// rules carry their webhook secrets; the audit entry (kind "alerts") covers
// only AlertsLine, a digest of the redacted set.
type AlertsCommand struct {
	Meta
	Rules alerts.RuleSet
}

func (*AlertsCommand) Type() CommandType { return TypeAlerts }
func (c *AlertsCommand) Header() *Meta   { return &c.Meta }

// AlertsLine is the change string of the command's audit entry:
// "alerts <n> rules <sha256 of the redacted set>". No secret is in it.
func (c *AlertsCommand) AlertsLine() string {
	b, _ := json.Marshal(alerts.Redacted(c.Rules))
	h := sha256.Sum256(b)
	return fmt.Sprintf("alerts %d rules %s", len(c.Rules.Rules), hex.EncodeToString(h[:]))
}

// AlertCursorCommand records that every alert of revisions up to Revision was
// delivered; a new leader resumes after it. It has no audit entry.
type AlertCursorCommand struct {
	Meta
	Revision uint64
}

func (*AlertCursorCommand) Type() CommandType { return TypeAlertCursor }
func (c *AlertCursorCommand) Header() *Meta   { return &c.Meta }

// ErrInvalidAlerts: a rule set the state machine refuses against the schema
// in force; every replica refuses it alike.
var ErrInvalidAlerts = verdict.New("invalid alert rules")

// The extra keys of the rule set and the delivery cursor.
var (
	alertRulesKey  = []byte("alerts\x00rules")
	alertCursorKey = []byte("alerts\x00cursor")
)

type wireAlerts struct {
	Meta  Meta           `json:"meta"`
	Rules alerts.RuleSet `json:"rules"`
}

type wireAlertCursor struct {
	Meta     Meta   `json:"meta"`
	Revision uint64 `json:"revision"`
}

func decodeAlerts(b []byte) (Command, error) {
	var w wireAlerts
	if err := strictUnmarshal(b, &w); err != nil {
		return nil, err
	}
	return &AlertsCommand{Meta: w.Meta, Rules: w.Rules}, nil
}

func decodeAlertCursor(b []byte) (Command, error) {
	var w wireAlertCursor
	if err := strictUnmarshal(b, &w); err != nil {
		return nil, err
	}
	return &AlertCursorCommand{Meta: w.Meta, Revision: w.Revision}, nil
}

func (a *applier) applyAlerts(index uint64, c Command) (WriteResult, error) {
	ac := c.(*AlertsCommand)
	if err := alerts.Validate(ac.Rules, a.schema); err != nil {
		return WriteResult{}, fmt.Errorf("%w: %w", ErrInvalidAlerts, err)
	}
	cur, _, err := a.alertsCursor(index)
	if err != nil {
		return WriteResult{}, err
	}
	return a.commit(index, c, storage.Batch{ChangeFloor: feedFloor(ac.Rules, cur)},
		func(r storage.Result) WriteResult {
			return WriteResult{Revision: r.Revision, Changed: len(ac.Rules.Rules)}
		}, "")
}

func (a *applier) applyAlertCursor(index uint64, c Command) (WriteResult, error) {
	rs, err := AlertRules(a.store)
	if err != nil {
		return WriteResult{}, err
	}
	cur, err := AlertCursor(a.store)
	if err != nil {
		return WriteResult{}, err
	}
	floor := feedFloor(rs, max(cur, c.(*AlertCursorCommand).Revision))
	return a.commit(index, c, storage.Batch{ChangeFloor: floor},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision} }, "")
}

// feedFloor is where the change feed is held (storage.Batch.ChangeFloor)
// for rules rs with the delivery cursor at cursor: the first revision not
// yet delivered, while some rule follows the feed; else 0, no hold. So the
// GC window cannot trim records the alert loop has still to deliver, and a
// loop that fell behind under load catches up instead of losing alerts.
func feedFloor(rs alerts.RuleSet, cursor uint64) *uint64 {
	f := uint64(0)
	if rs.FollowsFeed() {
		f = cursor + 1
	}
	return &f
}

// alertsCursor is the delivery cursor once a rule set is applied at index,
// and whether the rule set starts it anew: the first rule set, and one that
// replaces rules none of which followed the change feed, start it at
// index-1, so deliveries begin with its own revision (changes made while no
// rule followed the feed do not alert, and the feed was not held for them).
func (a *applier) alertsCursor(index uint64) (uint64, bool, error) {
	cur, err := AlertCursor(a.store)
	if err != nil {
		return 0, false, err
	}
	prev, err := AlertRules(a.store)
	if err != nil {
		return 0, false, err
	}
	if cur == 0 || !prev.FollowsFeed() {
		return index - 1, true, nil
	}
	return cur, false, nil
}

// alertsExtra is what an alerts or cursor command at index stores: the rule
// set, or the cursor (which never moves back); a rule set may start the
// cursor anew (alertsCursor).
func (a *applier) alertsExtra(c Command, index uint64) []storage.KV {
	cursor := func(rev uint64) storage.KV {
		return storage.KV{Key: append([]byte{}, alertCursorKey...), Value: fmt.Appendf(nil, "%d", rev)}
	}
	cur, err := AlertCursor(a.store)
	if err != nil {
		return nil
	}
	switch c := c.(type) {
	case *AlertsCommand:
		b, err := json.Marshal(c.Rules)
		if err != nil {
			return nil
		}
		kvs := []storage.KV{{Key: append([]byte{}, alertRulesKey...), Value: b}}
		if start, restart, err := a.alertsCursor(index); err == nil && restart && start > cur {
			kvs = append(kvs, cursor(start))
		}
		return kvs
	case *AlertCursorCommand:
		if cur < c.Revision {
			return []storage.KV{cursor(c.Revision)}
		}
	}
	return nil
}

// AlertRules returns the stored alert rule set, secrets included (empty
// before the first PUT /v1/alerts).
func AlertRules(s ExtraReader) (alerts.RuleSet, error) {
	var rs alerts.RuleSet
	b, ok, err := s.Extra(alertRulesKey)
	if err != nil || !ok {
		return rs, err
	}
	return rs, json.Unmarshal(b, &rs)
}

// AlertRulesRaw returns the stored rule set's JSON (nil before the first
// PUT /v1/alerts): cheap to compare, to see whether the rules changed.
func AlertRulesRaw(s ExtraReader) ([]byte, error) {
	b, _, err := s.Extra(alertRulesKey)
	return b, err
}

// AlertCursor returns the revision up to which every alert was delivered.
func AlertCursor(s ExtraReader) (uint64, error) {
	b, ok, err := s.Extra(alertCursorKey)
	if err != nil || !ok {
		return 0, err
	}
	var rev uint64
	_, err = fmt.Sscanf(string(b), "%d", &rev)
	return rev, err
}
