package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	tk := service.NewTokens("prod-eu")
	for _, rev := range []uint64{0, 1, 127, 128, 1 << 32, ^uint64(0)} {
		s := tk.Encode(rev)
		if !strings.HasPrefix(s, "t1.") {
			t.Errorf("Encode(%d) = %q, want the t1. prefix", rev, s)
		}
		got, err := tk.Decode(s)
		if err != nil || got != rev {
			t.Errorf("Decode(Encode(%d)) = %d, %v; want %d", rev, got, err, rev)
		}
	}
}

func TestTokenErrors(t *testing.T) {
	tk := service.NewTokens("prod-eu")
	good := tk.Encode(42)
	cases := []struct{ name, token, want string }{
		{"empty", "", "empty"},
		{"no prefix", "AbCd", "does not start"},
		{"future version", "t2." + good[3:], "does not start"},
		{"not base64", "t1.!!", "base64"},
		{"truncated", "t1." + base64.RawURLEncoding.EncodeToString([]byte{42, 1, 2}), "truncated"},
		{"another cluster", service.NewTokens("prod-us").Encode(42), "another cluster"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tk.Decode(c.token)
			if !errors.Is(err, service.ErrInvalidToken) {
				t.Fatalf("got %v, want ErrInvalidToken", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %q, want it to say %q", err, c.want)
			}
		})
	}
}

func FuzzTokenDecode(f *testing.F) {
	tk := service.NewTokens("fuzz")
	f.Add(tk.Encode(7))
	f.Add("t1.")
	f.Add("t1.AAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		rev, err := tk.Decode(s)
		if err != nil {
			if !errors.Is(err, service.ErrInvalidToken) {
				t.Fatalf("Decode(%q): error %v does not wrap ErrInvalidToken", s, err)
			}
			return
		}
		if again, err := tk.Decode(tk.Encode(rev)); err != nil || again != rev {
			t.Fatalf("re-encoding %d: got %d, %v", rev, again, err)
		}
	})
}

func TestConsistencyJSON(t *testing.T) {
	good := []struct {
		in   string
		want wire.Consistency
	}{
		{`"minimize_latency"`, wire.Consistency{Mode: wire.MinimizeLatency}},
		{`"fully_consistent"`, wire.Consistency{Mode: wire.FullyConsistent}},
		{`{"at_least_as_fresh":"t1.x"}`, wire.Consistency{Mode: wire.AtLeastAsFresh, Token: "t1.x"}},
		{`{"at_exact_snapshot":"t1.y"}`, wire.Consistency{Mode: wire.AtExactSnapshot, Token: "t1.y"}},
	}
	for _, c := range good {
		var got wire.Consistency
		if err := json.Unmarshal([]byte(c.in), &got); err != nil || got != c.want {
			t.Errorf("decoding %s: got %+v, %v; want %+v", c.in, got, err, c.want)
		}
		out, err := json.Marshal(got)
		if err != nil || string(out) != c.in {
			t.Errorf("encoding %+v: got %s, %v; want %s", got, out, err, c.in)
		}
	}
	for _, bad := range []string{`"eventually"`, `"at_least_as_fresh"`, `{"at_least_as_fresh":"a","at_exact_snapshot":"b"}`, `{"newest":"x"}`, `{}`, `42`} {
		var got wire.Consistency
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("decoding %s: got %+v, want an error", bad, got)
		}
	}
}
