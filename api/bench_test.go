package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"testing"
)

// BenchmarkCheckHTTP measures one check over real HTTP (loopback) against the
// real stack, cache warm, at minimize_latency.
func BenchmarkCheckHTTP(b *testing.B) {
	s := newStack(b)
	s.putSchema(testSchema)
	s.write(touch("team:ml#member@user:ana"), touch("dataset:claims#reader@team:ml#member"))
	body, _ := json.Marshal(wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"})
	client := s.http.Client()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/v1/check", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+s.tokens[RoleReader])
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out wire.CheckResponse
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Result != "allowed" {
				b.Fatalf("got %+v, %v", out, err)
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkWriteHTTP measures one single-update write through raft (one
// voter, loopback, no fsync) over HTTP.
func BenchmarkWriteHTTP(b *testing.B) {
	s := newStack(b)
	s.putSchema(testSchema)
	client := s.http.Client()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body, _ := json.Marshal(wire.WriteRelationshipsRequest{Updates: []wire.Update{touch(fmt.Sprintf("dataset:d%d#reader@user:ana", i))}})
		req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/v1/relationships/write", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.tokens[RoleWriter])
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
}
