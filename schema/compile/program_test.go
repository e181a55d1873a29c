package compile_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

const caveatSchema = `
caveat is_any(value any) { value == "yes" || value == 3 }
caveat is_bool(flag bool) { flag }
caveat is_string(name string) { name.startsWith("ana") }
caveat is_int(count int) { count > 2 }
caveat is_uint(count uint) { count > 2u }
caveat is_double(score double) { score > 0.5 }
caveat is_bytes(blob bytes) { blob == b"hi" }
caveat is_duration(ttl duration) { ttl > duration("1h") }
caveat is_timestamp(now timestamp) { now < timestamp("2027-01-01T00:00:00Z") }
caveat is_ip(addr ipaddress) { addr.in_cidr("10.0.0.0/8") }
caveat bad_cidr(addr ipaddress) { addr.in_cidr("10.0.0.0/99") }
caveat is_list(tags list<int>) { 3 in tags }
caveat is_map(limits map<double>) { limits["cpu"] > 1.0 }
caveat nested(groups map<list<string>>) { "ml" in groups["teams"] }
caveat either(first bool, second bool) { first || second }
caveat both(first bool, second bool) { first && second }
caveat purpose_is(purpose string, allowed list<string>) { purpose in allowed }
caveat heavy(items list<int>) { items.all(x, items.all(y, items.all(z, x + y + z >= 0))) }
`

// jsonCtx decodes a JSON object the way the API does.
func jsonCtx(t *testing.T, s string) map[string]any {
	t.Helper()
	ctx, err := tuple.ParseContext([]byte(s))
	if err != nil {
		t.Fatalf("bad test context %s: %v", s, err)
	}
	return ctx
}

func TestCaveatEval(t *testing.T) {
	s := mustCompile(t, caveatSchema)
	tests := []struct {
		caveat  string
		ctx     string
		want    bool
		missing []string
		errRx   string // non-empty: an ErrInvalidContext error matching this
	}{
		{caveat: "is_any", ctx: `{"value":"yes"}`, want: true},
		{caveat: "is_any", ctx: `{"value":3}`, want: true},
		{caveat: "is_any", ctx: `{"value":[1]}`, want: false},
		{caveat: "is_bool", ctx: `{"flag":true}`, want: true},
		{caveat: "is_bool", ctx: `{"flag":false}`, want: false},
		{caveat: "is_bool", ctx: `{"flag":"true"}`, errRx: `parameter "flag" of caveat "is_bool" must be a bool \(true or false\), got the string "true"`},
		{caveat: "is_string", ctx: `{"name":"anabel"}`, want: true},
		{caveat: "is_string", ctx: `{"name":12}`, errRx: `parameter "name" of caveat "is_string" must be a string, got 12`},
		{caveat: "is_string", ctx: `{"name":null}`, errRx: `must be a string, got null`},
		{caveat: "is_int", ctx: `{"count":3}`, want: true},
		{caveat: "is_int", ctx: `{"count":-5}`, want: false},
		{caveat: "is_int", ctx: `{"count":2.5}`, errRx: `must be an integer, got 2.5`},
		{caveat: "is_uint", ctx: `{"count":7}`, want: true},
		{caveat: "is_uint", ctx: `{"count":-1}`, errRx: `must be a non-negative integer, got -1`},
		{caveat: "is_double", ctx: `{"score":0.75}`, want: true},
		{caveat: "is_double", ctx: `{"score":1}`, want: true},
		{caveat: "is_double", ctx: `{"score":"high"}`, errRx: `must be a number, got the string "high"`},
		{caveat: "is_bytes", ctx: `{"blob":"aGk="}`, want: true},
		{caveat: "is_bytes", ctx: `{"blob":"!!"}`, errRx: `must be bytes as a base64 string`},
		{caveat: "is_duration", ctx: `{"ttl":"1h30m"}`, want: true},
		{caveat: "is_duration", ctx: `{"ttl":"30m"}`, want: false},
		{caveat: "is_duration", ctx: `{"ttl":"soon"}`, errRx: `must be a duration like "1h30m", got the string "soon"`},
		{caveat: "is_timestamp", ctx: `{"now":"2026-11-22T10:00:00Z"}`, want: true},
		{caveat: "is_timestamp", ctx: `{"now":"2027-06-01T00:00:00+02:00"}`, want: false},
		{caveat: "is_timestamp", ctx: `{"now":12}`, errRx: `parameter "now" of caveat "is_timestamp" must be a timestamp in RFC 3339 form like "2026-01-02T15:04:05Z", got 12`},
		{caveat: "is_timestamp", ctx: `{"now":"yesterday"}`, errRx: `must be a timestamp in RFC 3339 form`},
		{caveat: "is_ip", ctx: `{"addr":"10.1.2.3"}`, want: true},
		{caveat: "is_ip", ctx: `{"addr":"192.168.1.1"}`, want: false},
		{caveat: "is_ip", ctx: `{"addr":"::ffff:10.9.9.9"}`, want: true},
		{caveat: "is_ip", ctx: `{"addr":"10.1.2"}`, errRx: `must be an IP address like "10.1.2.3", got the string "10.1.2"`},
		{caveat: "is_list", ctx: `{"tags":[1,2,3]}`, want: true},
		{caveat: "is_list", ctx: `{"tags":[]}`, want: false},
		{caveat: "is_list", ctx: `{"tags":[1,"two"]}`, errRx: `parameter "tags" of caveat "is_list" element 1 must be an integer, got the string "two"`},
		{caveat: "is_list", ctx: `{"tags":"1,2"}`, errRx: `must be a list \(JSON array\) of int`},
		{caveat: "is_map", ctx: `{"limits":{"cpu":2}}`, want: true},
		{caveat: "is_map", ctx: `{"limits":{"cpu":0.5}}`, want: false},
		{caveat: "is_map", ctx: `{"limits":{"cpu":"lots"}}`, errRx: `key "cpu" must be a number`},
		{caveat: "is_map", ctx: `{"limits":[1]}`, errRx: `must be a map \(JSON object\) of double`},
		{caveat: "nested", ctx: `{"groups":{"teams":["ml","ops"]}}`, want: true},
		{caveat: "nested", ctx: `{"groups":{"teams":["ops",1]}}`, errRx: `key "teams" element 1 must be a string`},
		// Missing parameters make the result conditional.
		{caveat: "is_int", ctx: `{}`, missing: []string{"count"}},
		{caveat: "is_int", ctx: `{"unrelated":1}`, missing: []string{"count"}},
		{caveat: "purpose_is", ctx: `{"purpose":"eval"}`, missing: []string{"allowed"}},
		{caveat: "purpose_is", ctx: `{}`, missing: []string{"allowed", "purpose"}},
		{caveat: "purpose_is", ctx: `{"purpose":"eval","allowed":["eval","train"]}`, want: true},
		// Partial evaluation decides what it can.
		{caveat: "either", ctx: `{"first":true}`, want: true},
		{caveat: "either", ctx: `{"second":true}`, want: true},
		{caveat: "either", ctx: `{"first":false}`, missing: []string{"second"}},
		{caveat: "both", ctx: `{"first":false}`, want: false},
		{caveat: "both", ctx: `{"second":true}`, missing: []string{"first"}},
		{caveat: "both", ctx: `{}`, missing: []string{"first", "second"}},
	}
	for _, tt := range tests {
		t.Run(tt.caveat+" "+tt.ctx, func(t *testing.T) {
			got, err := s.Caveats[tt.caveat].Program.Eval(context.Background(), jsonCtx(t, tt.ctx))
			if tt.errRx != "" {
				if !errors.Is(err, compile.ErrInvalidContext) {
					t.Fatalf("got error %v, want ErrInvalidContext", err)
				}
				if !regexpMatch(tt.errRx, err.Error()) {
					t.Fatalf("got error %q, want /%s/", err, tt.errRx)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if len(tt.missing) > 0 {
				if !reflect.DeepEqual(got.Missing, tt.missing) {
					t.Fatalf("got missing %v, want %v", got.Missing, tt.missing)
				}
				return
			}
			if len(got.Missing) > 0 || got.Value != tt.want {
				t.Fatalf("got %+v, want value %v", got, tt.want)
			}
		})
	}
}

func TestCaveatEvalNativeValues(t *testing.T) {
	// Values not decoded through tuple.ParseContext: float64 and json.Number.
	s := mustCompile(t, caveatSchema)
	tests := []struct {
		caveat string
		params map[string]any
		want   bool
	}{
		{"is_int", map[string]any{"count": float64(3)}, true},
		{"is_int", map[string]any{"count": json.Number("3")}, true},
		{"is_uint", map[string]any{"count": json.Number("9")}, true},
		{"is_double", map[string]any{"score": json.Number("0.9")}, true},
		{"is_list", map[string]any{"tags": []any{json.Number("3")}}, true},
	}
	for _, tt := range tests {
		got, err := s.Caveats[tt.caveat].Program.Eval(context.Background(), tt.params)
		if err != nil || got.Value != tt.want || got.Missing != nil {
			t.Errorf("%s %v: got %+v, %v; want %v", tt.caveat, tt.params, got, err, tt.want)
		}
	}
}

func TestCaveatRuntimeError(t *testing.T) {
	s := mustCompile(t, caveatSchema)
	_, err := s.Caveats["bad_cidr"].Program.Eval(context.Background(), map[string]any{"addr": "10.0.0.1"})
	if !errors.Is(err, compile.ErrCaveatEval) || !strings.Contains(err.Error(), `"10.0.0.0/99" is not a CIDR block`) {
		t.Fatalf("got %v, want ErrCaveatEval naming the bad CIDR", err)
	}
	_, err = s.Caveats["is_map"].Program.Eval(context.Background(), jsonCtx(t, `{"limits":{"gpu":1}}`))
	if !errors.Is(err, compile.ErrCaveatEval) {
		t.Fatalf("got %v, want ErrCaveatEval for a missing map key", err)
	}
}

func TestCaveatCostLimit(t *testing.T) {
	items := make([]any, 60)
	for i := range items {
		items[i] = int64(i)
	}
	params := map[string]any{"items": items}

	low, errs := compile.CompileText("cost.zed", caveatSchema, compile.WithCaveatCostLimit(1000))
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	_, err := low.Caveats["heavy"].Program.Eval(context.Background(), params)
	if !errors.Is(err, compile.ErrCaveatCostExceeded) {
		t.Fatalf("got %v, want ErrCaveatCostExceeded", err)
	}
	// The same program with a budget large enough succeeds.
	high, _ := compile.CompileText("cost.zed", caveatSchema, compile.WithCaveatCostLimit(100_000_000))
	got, err := high.Caveats["heavy"].Program.Eval(context.Background(), params)
	if err != nil || !got.Value {
		t.Fatalf("got %+v, %v; want true", got, err)
	}
	// The default limit stops it too: 60^3 iterations cost far above 100000.
	def := mustCompile(t, caveatSchema)
	if _, err := def.Caveats["heavy"].Program.Eval(context.Background(), params); !errors.Is(err, compile.ErrCaveatCostExceeded) {
		t.Fatalf("default limit: got %v, want ErrCaveatCostExceeded", err)
	}
}

func TestCaveatConcurrent(t *testing.T) {
	s := mustCompile(t, caveatSchema)
	prog := s.Caveats["purpose_is"].Program
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			purpose := []string{"eval", "other"}[i%2]
			for range 200 {
				got, err := prog.Eval(context.Background(), map[string]any{"purpose": purpose, "allowed": []any{"eval"}})
				if err != nil || got.Value != (purpose == "eval") {
					errs <- errors.New("wrong result under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

var _ schema.CaveatProgram
