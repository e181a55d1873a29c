package api

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
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
		want := cmp.Or(rt.ExampleStatus, http.StatusOK)
		if r.status != want {
			t.Errorf("%s %s: example answered %d %s, want %d", rt.Method, rt.Path, r.status, r.body, want)
		}
	}
	if tried < 11 {
		t.Errorf("only %d routes have examples; want every POST and PUT (11)", tried)
	}
}

// TestOpenAPIQueryExamples: every route with query parameters has an example
// query string naming only documented parameters, the document shows it, and
// each example answers 200 on a server with audit and watch routes (a schema
// write and a relationship write first, so the audit proofs have entries).
func TestOpenAPIQueryExamples(t *testing.T) {
	s := newAuditStack(t)
	routes := s.srv.Routes()
	example := func(method, path string) Route {
		for _, rt := range routes {
			if rt.Method == method && rt.Path == path {
				return rt
			}
		}
		t.Fatalf("no route %s %s", method, path)
		return Route{}
	}
	for _, setup := range []Route{example(http.MethodPut, "/v1/schema"), example(http.MethodPost, "/v1/relationships/write")} {
		if r := s.do(setup.Method, setup.Path, s.tokens[RoleAdmin], setup.Example); r.status != http.StatusOK {
			t.Fatalf("%s %s example: %d %s", setup.Method, setup.Path, r.status, r.body)
		}
	}
	doc := s.do(http.MethodGet, "/openapi.json", "", nil)
	var spec struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name    string `json:"name"`
				In      string `json:"in"`
				Example string `json:"example"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc.body, &spec); err != nil {
		t.Fatal(err)
	}
	tried := 0
	for _, rt := range routes {
		if len(rt.Query) == 0 {
			continue
		}
		if rt.QueryExample == "" {
			t.Errorf("%s %s has query parameters but no QueryExample", rt.Method, rt.Path)
			continue
		}
		vals, err := url.ParseQuery(rt.QueryExample)
		if err != nil {
			t.Errorf("%s %s: QueryExample %q: %v", rt.Method, rt.Path, rt.QueryExample, err)
			continue
		}
		documented := map[string]bool{}
		for _, q := range rt.Query {
			documented[q.Name] = true
		}
		shown := map[string]string{}
		for _, p := range spec.Paths[rt.Path][strings.ToLower(rt.Method)].Parameters {
			if p.In == "query" && p.Example != "" {
				shown[p.Name] = p.Example
			}
		}
		for name := range vals {
			if !documented[name] {
				t.Errorf("%s %s: QueryExample names %q, which is not among its query parameters", rt.Method, rt.Path, name)
			}
			if shown[name] != vals.Get(name) {
				t.Errorf("%s %s: the document shows %q as the example of %s, want %q", rt.Method, rt.Path, shown[name], name, vals.Get(name))
			}
		}
		tried++
		path := rt.Path + "?" + rt.QueryExample
		if rt.StreamOut == "text/event-stream" {
			// A stream never ends: the status and content type are the answer.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, rt.Method, s.http.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+s.tokens[RoleAdmin])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				cancel()
				t.Errorf("%s %s: %v", rt.Method, path, err)
				continue
			}
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), rt.StreamOut) {
				t.Errorf("%s %s: example answered %d %s, want 200 %s", rt.Method, path, resp.StatusCode, resp.Header.Get("Content-Type"), rt.StreamOut)
			}
			resp.Body.Close()
			cancel()
			continue
		}
		var body any
		if rt.Method != http.MethodGet {
			body = rt.Example
		}
		if r := s.do(rt.Method, path, s.tokens[RoleAdmin], body); r.status != http.StatusOK {
			t.Errorf("%s %s: example answered %d %s, want 200", rt.Method, path, r.status, r.body)
		}
	}
	if tried < 8 {
		t.Errorf("only %d routes with query parameters were tried; want export, import, schema, the four audit routes and watch (8)", tried)
	}
}
