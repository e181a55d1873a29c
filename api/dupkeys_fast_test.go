package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// slowDuplicateKey is duplicateKey without its fast path.
func slowDuplicateKey(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_, _, found, _ := scanValue(dec, "")
	return found
}

// The fast path never says "no duplicate" where the decoder-based scan
// finds one: hand-picked bodies (keys inside strings, escapes, nesting,
// wide objects) and random ones.
func TestDuplicateKeyFastPathAgrees(t *testing.T) {
	wide := make([]string, 40)
	for i := range wide {
		wide[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	bodies := []string{
		`{"a":1,"b":2}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"x":1},{"x":2}]}`,
		`{"a":[{"x":1,"x":2}]}`, `{"s":"{\"a\":1,\"a\":2}"}`, `{"a":1,"\u0061":2}`, `{"a\"b":1,"a\"b":2}`,
		`{"a":"}","a":1}`, `[{"a":1},{"a":1}]`, `{"a":{},"b":{},"a":[]}`, "{" + strings.Join(wide, ",") + "}",
		"{" + strings.Join(wide, ",") + `,"k3":0}`, `{"a":1`, `"a"`, `{}`, `{"a":1,"b":{"a":1}}`,
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for range 2000 {
		bodies = append(bodies, randomJSON(rng, 3))
	}
	for _, b := range bodies {
		slow := slowDuplicateKey([]byte(b))
		_, _, got := duplicateKey([]byte(b))
		if got != slow {
			t.Errorf("%s: duplicateKey says %v, the decoder-based scan %v", b, got, slow)
		}
	}
}

func randomJSON(rng *rand.Rand, depth int) string {
	keys := []string{"a", "b", "c", `q\"`, "é"}
	switch {
	case depth == 0 || rng.IntN(3) == 0:
		return []string{`1`, `"x"`, `"{\"a\":1}"`, `null`, `[]`}[rng.IntN(5)]
	case rng.IntN(2) == 0:
		n := rng.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%q:%s", keys[rng.IntN(len(keys))], randomJSON(rng, depth-1))
		}
		return "{" + strings.Join(parts, ",") + "}"
	default:
		n := rng.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = randomJSON(rng, depth-1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
}

// The duplicate-key scan of a typical check body (it runs on every request).
func BenchmarkDuplicateKeyCheckBody(b *testing.B) {
	body := []byte(`{"resource":"dataset:claims","permission":"read","subject":"user:ana","context":{"purpose":"fraud-model"},"consistency":{"at_least_as_fresh":"t1.AAAAAAAAAAE"}}`)
	for _, mode := range []string{"fast", "decoder"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if mode == "fast" {
					duplicateKey(body)
				} else {
					slowDuplicateKey(body)
				}
			}
		})
	}
}
