package compile

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/trellis-authz/trellis/schema"
)

// program is a compiled caveat. It holds no mutable state, so one program
// serves every goroutine.
type program struct {
	caveat *schema.Caveat
	prg    cel.Program
	refs   map[string]bool // parameters the expression names
}

var _ schema.CaveatProgram = (*program)(nil)

// Eval converts params to the declared parameter types and evaluates the
// caveat. Parameters absent from params are unknown: when the result depends
// on them, it is conditional and Missing names them, sorted. Keys that are not
// parameters of this caveat are ignored (request context is shared by every
// caveat of a check).
func (p *program) Eval(ctx context.Context, params map[string]any) (schema.CaveatResult, error) {
	vars := make(map[string]any, len(p.caveat.ParamOrder))
	var unknowns []*cel.AttributePatternType
	for _, name := range p.caveat.ParamOrder {
		raw, ok := params[name]
		if !ok {
			unknowns = append(unknowns, cel.AttributePattern(name))
			continue
		}
		v, err := convertParam(p.caveat.Params[name], raw)
		if err != nil {
			return schema.CaveatResult{}, fmt.Errorf("%w: parameter %q of caveat %q %s", ErrInvalidContext, name, p.caveat.Name, err)
		}
		vars[name] = v
	}
	act, err := cel.PartialVars(vars, unknowns...)
	if err != nil {
		return schema.CaveatResult{}, fmt.Errorf("%w: caveat %q: %v", ErrCaveatEval, p.caveat.Name, err)
	}
	out, _, err := p.prg.ContextEval(ctx, act)
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			return schema.CaveatResult{}, fmt.Errorf("%w: caveat %q", ErrCaveatCostExceeded, p.caveat.Name)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return schema.CaveatResult{}, fmt.Errorf("caveat %q: %w", p.caveat.Name, ctxErr)
		}
		return schema.CaveatResult{}, fmt.Errorf("%w: caveat %q: %v", ErrCaveatEval, p.caveat.Name, err)
	}
	if u, ok := out.(*types.Unknown); ok {
		return schema.CaveatResult{Missing: p.missing(u, params)}, nil
	}
	b, ok := out.(types.Bool)
	if !ok {
		return schema.CaveatResult{}, fmt.Errorf("%w: caveat %q returned %s, not bool", ErrCaveatEval, p.caveat.Name, out.Type().TypeName())
	}
	return schema.CaveatResult{Value: bool(b)}, nil
}

// missing names the absent parameters an unknown result depends on, falling
// back to every absent parameter the expression references.
func (p *program) missing(u *types.Unknown, params map[string]any) []string {
	set := map[string]bool{}
	for _, id := range u.IDs() {
		trails, _ := u.GetAttributeTrails(id)
		for _, t := range trails {
			if _, declared := p.caveat.Params[t.Variable()]; declared {
				set[t.Variable()] = true
			}
		}
	}
	if len(set) == 0 {
		for name := range p.refs {
			if _, given := params[name]; !given {
				set[name] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for name := range set {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// convertParam turns a JSON-decoded value into the CEL value of type t. The
// error text continues "parameter "x" of caveat "y" ...".
func convertParam(t schema.ParamType, v any) (ref.Val, error) {
	v = normalizeJSON(v)
	// One rule decides which values fit (schema.ParamType.Check, also run by
	// the API and the raft applier); below, only the conversion.
	if err := t.Check(v); err != nil {
		return nil, err
	}
	bad := func(want string) error {
		return fmt.Errorf("must be %s, got %s", want, schema.DescribeValue(v))
	}
	switch t.Name {
	case "any":
		if v == nil {
			return types.NullValue, nil
		}
		val := types.DefaultTypeAdapter.NativeToValue(v)
		if types.IsError(val) {
			return nil, fmt.Errorf("has an unsupported value %s", schema.DescribeValue(v))
		}
		return val, nil
	case "bool":
		if b, ok := v.(bool); ok {
			return types.Bool(b), nil
		}
		return nil, bad("a bool (true or false)")
	case "string":
		if s, ok := v.(string); ok {
			return types.String(s), nil
		}
		return nil, bad("a string")
	case "int":
		switch n := v.(type) {
		case int64:
			return types.Int(n), nil
		case int:
			return types.Int(n), nil
		case float64:
			if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
				return types.Int(int64(n)), nil
			}
		}
		return nil, bad("an integer")
	case "uint":
		switch n := v.(type) {
		case int64:
			if n >= 0 {
				return types.Uint(uint64(n)), nil
			}
		case int:
			if n >= 0 {
				return types.Uint(uint64(n)), nil
			}
		case uint64:
			return types.Uint(n), nil
		case float64:
			if n == math.Trunc(n) && n >= 0 && n < math.MaxUint64 {
				return types.Uint(uint64(n)), nil
			}
		}
		return nil, bad("a non-negative integer")
	case "double":
		switch n := v.(type) {
		case float64:
			return types.Double(n), nil
		case int64:
			return types.Double(float64(n)), nil
		case int:
			return types.Double(float64(n)), nil
		}
		return nil, bad("a number")
	case "bytes":
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("must be bytes as a base64 string, got %s (%v)", schema.DescribeValue(v), err)
			}
			return types.Bytes(b), nil
		}
		return nil, bad("bytes as a base64 string")
	case "duration":
		if s, ok := v.(string); ok {
			d, err := time.ParseDuration(s)
			if err == nil {
				return types.Duration{Duration: d}, nil
			}
		}
		return nil, bad(`a duration like "1h30m"`)
	case "timestamp":
		if s, ok := v.(string); ok {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err == nil {
				return types.Timestamp{Time: ts}, nil
			}
		}
		return nil, bad(`a timestamp in RFC 3339 form like "2026-01-02T15:04:05Z"`)
	case "ipaddress":
		if s, ok := v.(string); ok {
			a, err := netip.ParseAddr(s)
			if err == nil {
				return ipAddress{addr: a}, nil
			}
		}
		return nil, bad(`an IP address like "10.1.2.3"`)
	case "list":
		l, ok := v.([]any)
		if !ok {
			return nil, bad("a list (JSON array) of " + t.Elem.String())
		}
		vals := make([]ref.Val, len(l))
		for i, e := range l {
			ev, err := convertParam(*t.Elem, e)
			if err != nil {
				return nil, fmt.Errorf("element %d %w", i, err)
			}
			vals[i] = ev
		}
		return types.NewRefValList(types.DefaultTypeAdapter, vals), nil
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad("a map (JSON object) of " + t.Elem.String())
		}
		vals := make(map[ref.Val]ref.Val, len(m))
		for k, e := range m {
			ev, err := convertParam(*t.Elem, e)
			if err != nil {
				return nil, fmt.Errorf("key %q %w", k, err)
			}
			vals[types.String(k)] = ev
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, vals), nil
	}
	return nil, fmt.Errorf("has unsupported type %s", t)
}

// normalizeJSON turns json.Number into int64 or float64, recursively.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	}
	return v
}

// describe shows a JSON value in an error: its JSON text, shortened.
