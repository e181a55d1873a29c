package driver

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzReadQueries: any input either fails with a clear error or yields queries
// that encode and read back the same.
func FuzzReadQueries(f *testing.F) {
	f.Add([]byte(`{"class":"c","resource":"dataset:d","permission":"read","subject":"user:a","expect":"allowed"}` + "\n"))
	f.Add([]byte(`{"class":"l","kind":"lookup_resources","resource_type":"dataset","permission":"read","subject":"user:a","expect":"allowed","expect_resources":[{"id":"d","result":"allowed"}]}`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"class":"c","resource":"a:b","permission":"p","subject":"s","context":{"purpose":"x","n":1.5}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		qs, err := ReadQueries(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, q := range qs {
			if err := enc.Encode(q); err != nil {
				t.Fatalf("accepted query %+v does not encode: %v", q, err)
			}
		}
		again, err := ReadQueries(&buf)
		if err != nil {
			t.Fatalf("re-reading accepted queries: %v", err)
		}
		if len(again) != len(qs) {
			t.Fatalf("got %d queries back, want %d", len(again), len(qs))
		}
	})
}
