package tuple

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// TestNormalizeContextNumbers: the number rule goes by value, so every
// spelling of a whole number that fits an int64 is an int64 and anything
// else a float64, and FormatContext reads back to the same Go types.
func TestNormalizeContextNumbers(t *testing.T) {
	tests := []struct {
		in   any
		want any
	}{
		{json.Number("1"), int64(1)},
		{json.Number("1.0"), int64(1)},
		{json.Number("-0.0"), int64(0)},
		{json.Number("1e3"), int64(1000)},
		{json.Number("2.5"), 2.5},
		{json.Number("1e20"), 1e20},
		{json.Number("9223372036854775807"), int64(math.MaxInt64)},
		{json.Number("9223372036854775808"), float64(1 << 63)},
		{json.Number("9007199254740992.0"), int64(1 << 53)},
		{json.Number("-9223372036854775808.0"), int64(math.MinInt64)},
		{float64(1), int64(1)},
		{float64(1 << 60), int64(1 << 60)},
		{float64(1 << 63), float64(1 << 63)},
		{math.Inf(1), math.Inf(1)},
		{float32(0.5), 0.5},
		{3, int64(3)},
		{uint64(math.MaxUint64), float64(math.MaxUint64)},
		{"1", "1"},
		{[]any{json.Number("1.0")}, []any{int64(1)}},
		{map[string]any{"n": 2.0}, map[string]any{"n": int64(2)}},
	}
	for _, tt := range tests {
		got := NormalizeContext(map[string]any{"v": tt.in})["v"]
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%T %v: got %T %v, want %T %v", tt.in, tt.in, got, got, tt.want, tt.want)
		}
	}
}

// FuzzContextRoundTrip: a context ParseContext accepts formats and parses
// back to the same values of the same Go types.
func FuzzContextRoundTrip(f *testing.F) {
	for _, s := range []string{`{"n":1}`, `{"n":1.0}`, `{"n":2.5,"m":[1e3,-0.0,{"x":1e20}]}`,
		`{"big":12345678901234567890}`, `{"b":true,"s":"x","z":null}`, `{"e":9007199254740993.0}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ctx, err := ParseContext([]byte(s))
		if err != nil {
			return
		}
		out := FormatContext(ctx)
		back, err := ParseContext([]byte(out))
		if err != nil {
			t.Fatalf("FormatContext of %q is %q, which does not parse: %v", s, out, err)
		}
		if len(ctx) == 0 && len(back) == 0 {
			return // "null" decodes to a nil map, which formats as {}
		}
		if !reflect.DeepEqual(back, ctx) {
			t.Fatalf("round trip of %q through %q: got %s, want %s", s, out, typed(back), typed(ctx))
		}
	})
}

// typed shows values with their Go types.
func typed(v any) string {
	switch x := v.(type) {
	case map[string]any:
		s := "{"
		for _, k := range SortedContextKeys(x) {
			s += fmt.Sprintf("%q:%s,", k, typed(x[k]))
		}
		return s + "}"
	case []any:
		s := "["
		for _, e := range x {
			s += typed(e) + ","
		}
		return s + "]"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}
