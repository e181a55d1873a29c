package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute walks echo's route table: every route must be in
// the document with its method, and every POST/PUT with a JSON body must have
// an example.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := newStack(t)
	r := s.do(http.MethodGet, "/openapi.json", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json: got %d, want 200", r.status)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version: got %q, want 3.x", doc.OpenAPI)
	}
	n := 0
	for _, er := range s.srv.e.Routes() {
		if er.Method == "echo_route_any" || strings.HasPrefix(er.Method, "echo") {
			continue
		}
		n++
		op, ok := doc.Paths[OpenAPIPath(er.Path)][strings.ToLower(er.Method)]
		if !ok {
			t.Errorf("route %s %s is not in the OpenAPI document", er.Method, er.Path)
			continue
		}
		if _, ok := op["responses"]; !ok {
			t.Errorf("%s %s: no responses", er.Method, er.Path)
		}
		if er.Method == http.MethodPost || er.Method == http.MethodPut {
			rb, _ := op["requestBody"].(map[string]any)
			content, _ := rb["content"].(map[string]any)
			hasExample := false
			for _, m := range content {
				if _, ok := m.(map[string]any)["example"]; ok {
					hasExample = true
				}
			}
			if !hasExample {
				t.Errorf("%s %s: no example request", er.Method, er.Path)
			}
		}
	}
	if n < 17 {
		t.Errorf("echo has %d routes; want at least the 17 core ones", n)
	}
}

// TestOpenAPIExamples sends every route's example request to a real server
// (schema example first) and requires a 200; it also checks that each example
// decodes strictly into the route's request type.
func TestOpenAPIExamples(t *testing.T) {
	s := newStack(t)
	routes := s.srv.Routes()
	slices.SortStableFunc(routes, func(a, b Route) int {
		if a.Method == http.MethodPut && a.Path == "/v1/schema" {
			return -1
		}
		if b.Method == http.MethodPut && b.Path == "/v1/schema" {
			return 1
		}
		return 0
	})
	tried := 0
	for _, rt := range routes {
		if rt.Example == nil {
			continue
		}
		tried++
		if text, isText := rt.Example.(string); isText && rt.StreamIn != "" {
			r := s.do(rt.Method, rt.Path, s.tokens[RoleAdmin], text)
			if r.status != http.StatusOK {
				t.Errorf("%s %s: example answered %d %s, want 200", rt.Method, rt.Path, r.status, r.body)
			}
			continue
		}
		js, err := json.Marshal(rt.Example)
		if err != nil {
			t.Fatalf("%s %s: example does not encode: %v", rt.Method, rt.Path, err)
		}
		v := reflect.New(reflect.TypeOf(rt.Request)).Interface()
		dec := json.NewDecoder(strings.NewReader(string(js)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s %s: example does not decode into %T: %v", rt.Method, rt.Path, rt.Request, err)
		}
		r := s.do(rt.Method, rt.Path, s.tokens[RoleAdmin], js)
		if r.status != http.StatusOK {
			t.Errorf("%s %s: example answered %d %s, want 200", rt.Method, rt.Path, r.status, r.body)
		}
	}
	if tried < 11 {
		t.Errorf("only %d routes have examples; want every POST and PUT (11)", tried)
	}
}
