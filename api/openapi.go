package api

import (
	"encoding/json"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// The OpenAPI document is generated from the route table and the Go types of
// the request and response bodies, so it cannot drift from the handlers.

var pathParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// OpenAPIPath turns an echo path ("/v1/cluster/members/:id") into an OpenAPI
// one ("/v1/cluster/members/{id}").
func OpenAPIPath(p string) string { return pathParam.ReplaceAllString(p, "{$1}") }

// OpenAPI returns the OpenAPI 3 document of every registered route.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
	errRef := g.ref(reflect.TypeOf(wire.ErrorResponse{}))
	paths := map[string]any{}
	for _, r := range s.Routes() {
		p := OpenAPIPath(r.Path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{
			"summary":     r.Summary,
			"operationId": operationID(r.Method, r.Path),
		}
		if r.Role != "" {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
			op["description"] = "Needs role " + string(r.Role) + " or higher."
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		examples, _ := url.ParseQuery(r.QueryExample) // checked by TestOpenAPIQueryExamples
		for _, q := range r.Query {
			p := map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": map[string]any{"type": "string"}}
			if examples.Has(q.Name) {
				p["example"] = examples.Get(q.Name)
			}
			params = append(params, p)
		}
		params = append(params, map[string]any{"name": RequestIDHeader, "in": "header", "description": "a UUID to trace the request; echoed back", "schema": map[string]any{"type": "string", "format": "uuid"}})
		op["parameters"] = params
		if r.Request != nil {
			media := map[string]any{"schema": g.ref(reflect.TypeOf(r.Request))}
			if r.Example != nil {
				media["example"] = r.Example
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": media}}
		} else if r.StreamIn != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{r.StreamIn: map[string]any{
				"schema":  map[string]any{"type": "string", "description": "one relationship per line, as {\"relationship\": \"...\"} or as plain text"},
				"example": r.Example,
			}}}
		}
		okResp := map[string]any{"description": "success"}
		switch {
		case r.StreamOut != "" && r.Response != nil:
			okResp["content"] = map[string]any{r.StreamOut: map[string]any{"schema": g.ref(reflect.TypeOf(r.Response))}}
			okResp["headers"] = map[string]any{ReadAtHeader: map[string]any{"description": "the token of the revision read", "schema": map[string]any{"type": "string"}}}
		case r.StreamOut != "":
			okResp["content"] = map[string]any{r.StreamOut: map[string]any{"schema": map[string]any{"type": "string"}}}
		case r.Response != nil:
			okResp["content"] = map[string]any{"application/json": map[string]any{"schema": g.ref(reflect.TypeOf(r.Response))}}
		}
		op["responses"] = map[string]any{
			"200":     okResp,
			"default": map[string]any{"description": "an error; see the error model in the package documentation", "content": map[string]any{"application/json": map[string]any{"schema": errRef}}},
		}
		item[strings.ToLower(r.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Trellis API",
			"version":     "1",
			"description": "Relationship-based access control. Errors are {\"error\": {\"code\", \"message\", \"details\", \"request_id\"}}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         g.defs,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

func (s *Server) handleOpenAPI(c echo.Context) error {
	return c.JSON(http.StatusOK, s.OpenAPI())
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == ':' || r == '.' }) {
		if part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

var (
	rawMessageType  = reflect.TypeOf(json.RawMessage{})
	timeType        = reflect.TypeOf(time.Time{})
	consistencyType = reflect.TypeOf(wire.Consistency{})
)

// ref returns a schema for t, registering named structs under components.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case rawMessageType:
		return map[string]any{"type": "object", "additionalProperties": true, "description": "caveat context: parameter name to JSON value"}
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case consistencyType:
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "string", "enum": []any{wire.MinimizeLatency, wire.FullyConsistent}},
			map[string]any{"type": "object", "properties": map[string]any{wire.AtLeastAsFresh: map[string]any{"type": "string"}}, "required": []any{wire.AtLeastAsFresh}, "additionalProperties": false},
			map[string]any{"type": "object", "properties": map[string]any{wire.AtExactSnapshot: map[string]any{"type": "string"}}, "required": []any{wire.AtExactSnapshot}, "additionalProperties": false},
		}, "description": "which revision the read sees; default minimize_latency"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": "object", "additionalProperties": true}
		}
		return map[string]any{"type": "object", "additionalProperties": g.ref(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name, ok := g.names[t]
		if !ok {
			name = t.Name()
			if _, taken := g.defs[name]; taken || name == "" {
				pkg := t.PkgPath()
				name = strings.ToUpper(pkg[strings.LastIndex(pkg, "/")+1:][:1]) + pkg[strings.LastIndex(pkg, "/")+2:] + t.Name()
			}
			g.names[t] = name
			g.defs[name] = map[string]any{} // placeholder for recursion
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []any
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		props[name] = g.ref(f.Type)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			required = append(required, name)
		}
	}
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}
