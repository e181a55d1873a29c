package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// Check reports whether the JSON-decoded value v (bool, string, int64,
// float64, json.Number, []any, map[string]any or nil) fits the parameter
// type t. It is the one rule for caveat context values: the API checks a
// request's and a relationship's context with it, the raft applier checks
// every stored relationship with it (through ValidateRelationship), the
// policy-file runner checks its relationships with it, and the compiled
// caveat program converts only values it accepted. The error text completes
// "parameter "x" ...": `must be bytes as a base64 string, got the string "%%"`.
func (t ParamType) Check(v any) error {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			v = i
		} else if f, err := n.Float64(); err == nil {
			v = f
		}
	}
	bad := func(want string) error { return fmt.Errorf("must be %s, got %s", want, DescribeValue(v)) }
	switch t.Name {
	case "any":
		return nil
	case "bool":
		if _, ok := v.(bool); ok {
			return nil
		}
		return bad("a bool (true or false)")
	case "string":
		if _, ok := v.(string); ok {
			return nil
		}
		return bad("a string")
	case "int":
		if isInteger(v, math.MinInt64, math.MaxInt64) {
			return nil
		}
		return bad("an integer")
	case "uint":
		if isInteger(v, 0, math.MaxUint64) {
			return nil
		}
		return bad("a non-negative integer")
	case "double":
		switch v.(type) {
		case float64, int64, int, uint64:
			return nil
		}
		return bad("a number")
	case "bytes":
		if s, ok := v.(string); ok {
			if _, err := base64.StdEncoding.DecodeString(s); err == nil {
				return nil
			}
		}
		return bad("bytes as a base64 string")
	case "duration":
		if s, ok := v.(string); ok {
			if _, err := time.ParseDuration(s); err == nil {
				return nil
			}
		}
		return bad(`a duration like "1h30m"`)
	case "timestamp":
		if s, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return nil
			}
		}
		return bad(`a timestamp in RFC 3339 form like "2026-01-02T15:04:05Z"`)
	case "ipaddress":
		if s, ok := v.(string); ok {
			if _, err := netip.ParseAddr(s); err == nil {
				return nil
			}
		}
		return bad(`an IP address like "10.1.2.3"`)
	case "list":
		l, ok := v.([]any)
		if !ok {
			return bad("a list (JSON array) of " + t.Elem.String())
		}
		for i, e := range l {
			if err := t.Elem.Check(e); err != nil {
				return fmt.Errorf("element %d %w", i, err)
			}
		}
		return nil
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return bad("a map (JSON object) of " + t.Elem.String())
		}
		for _, k := range tuple.SortedContextKeys(m) {
			if err := t.Elem.Check(m[k]); err != nil {
				return fmt.Errorf("key %q %w", k, err)
			}
		}
		return nil
	}
	return fmt.Errorf("has unsupported type %s", t)
}

func isInteger(v any, lo, hi float64) bool {
	switch n := v.(type) {
	case int64:
		return float64(n) >= lo
	case int:
		return float64(n) >= lo
	case uint64:
		return true
	case float64:
		return n == math.Trunc(n) && n >= lo && n < hi
	}
	return false
}

// CheckContext checks a context against the caveat's parameters: every key
// is a parameter and every value fits its type. The error wraps
// ErrUnknownCaveatParameter or ErrInvalidContext and names the parameter.
func (c *Caveat) CheckContext(ctx map[string]any) error {
	var unknown []string
	keys := tuple.SortedContextKeys(ctx)
	for _, k := range keys {
		if _, ok := c.Params[k]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: caveat %q has no parameter %s; its parameters are: %s",
			ErrUnknownCaveatParameter, c.Name, strings.Join(unknown, ", "), strings.Join(c.ParamOrder, ", "))
	}
	for _, k := range keys {
		pt := c.Params[k]
		if err := pt.Check(ctx[k]); err != nil {
			return &ContextError{Caveat: c.Name, Param: k, Type: pt.String(), err: err}
		}
	}
	return nil
}

// ContextError is a context value that does not fit its parameter's type.
// It wraps ErrInvalidContext.
type ContextError struct {
	Caveat, Param, Type string
	err                 error
}

func (e *ContextError) Error() string {
	return fmt.Sprintf("parameter %q (%s) of caveat %q %v", e.Param, e.Type, e.Caveat, e.err)
}

// Unwrap returns ErrInvalidContext.
func (e *ContextError) Unwrap() error { return ErrInvalidContext }

// DescribeValue names a JSON value for an error message: `the string "x"`,
// `the list [1,2]`, `null`, or the number itself.
func DescribeValue(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := string(b)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	switch v.(type) {
	case string:
		return "the string " + s
	case []any:
		return "the list " + s
	case map[string]any:
		return "the object " + s
	case bool:
		return "the bool " + s
	}
	return s // a number
}
