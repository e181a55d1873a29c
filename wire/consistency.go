package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Consistency modes.
const (
	MinimizeLatency = "minimize_latency"
	AtLeastAsFresh  = "at_least_as_fresh"
	AtExactSnapshot = "at_exact_snapshot"
	FullyConsistent = "fully_consistent"
)

// Consistency says which revision a read sees. In JSON it is either the string
// "minimize_latency" or "fully_consistent", or an object
// {"at_least_as_fresh": TOKEN} or {"at_exact_snapshot": TOKEN}.
type Consistency struct {
	Mode  string // one of the four modes; "" means minimize_latency
	Token string // for at_least_as_fresh and at_exact_snapshot
}

// MarshalJSON writes the string or object form.
func (c Consistency) MarshalJSON() ([]byte, error) {
	switch c.Mode {
	case "", MinimizeLatency, FullyConsistent:
		m := c.Mode
		if m == "" {
			m = MinimizeLatency
		}
		return json.Marshal(m)
	case AtLeastAsFresh, AtExactSnapshot:
		return json.Marshal(map[string]string{c.Mode: c.Token})
	}
	return nil, fmt.Errorf("unknown consistency mode %q", c.Mode)
}

// UnmarshalJSON reads the string or object form.
func (c *Consistency) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case MinimizeLatency, FullyConsistent:
			*c = Consistency{Mode: s}
			return nil
		case AtLeastAsFresh, AtExactSnapshot:
			return fmt.Errorf("consistency %q needs a token: write {%q: TOKEN}", s, s)
		}
		return fmt.Errorf("unknown consistency %q; use \"minimize_latency\", \"fully_consistent\", {\"at_least_as_fresh\": TOKEN} or {\"at_exact_snapshot\": TOKEN}", s)
	}
	if string(b) == "null" {
		*c = Consistency{}
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("consistency must be a string or an object with one token: %v", err)
	}
	if len(m) != 1 {
		return fmt.Errorf("consistency object must have exactly one key, at_least_as_fresh or at_exact_snapshot; got %d", len(m))
	}
	for k, v := range m {
		if k != AtLeastAsFresh && k != AtExactSnapshot {
			return fmt.Errorf("unknown consistency %q; use at_least_as_fresh or at_exact_snapshot", k)
		}
		*c = Consistency{Mode: k, Token: v}
	}
	return nil
}
