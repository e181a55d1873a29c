package spicedb_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Helpers to call SpiceDB's HTTP/JSON gateway with plain net/http, as a
// caller without authzed-go would: a JSON body (protojson of a request
// message, or JSON text written by hand), a bearer token and headers; a
// unary answer is one JSON object, a streamed one is newline-delimited
// {"result": {...}} objects (or {"error": {...}}).

// gwAnswer is what the gateway answered: the HTTP status and the body.
type gwAnswer struct {
	status int
	body   []byte
}

// gwError is a gateway error body, google.rpc.Status in JSON, or (when the
// HTTP layer refused the request before the gateway saw it) Trellis's REST
// error body, in which case Code is 0 and RESTCode is set.
type gwError struct {
	HTTPStatus int
	Code       int               `json:"code"`
	Message    string            `json:"message"`
	Details    []json.RawMessage `json:"details"`
	RESTCode   string
}

func (e *gwError) Error() string {
	if e.RESTCode != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.HTTPStatus, e.RESTCode, e.Message)
	}
	return fmt.Sprintf("HTTP %d code %d: %s", e.HTTPStatus, e.Code, e.Message)
}

// parseGwError reads an error body of either shape; nil when it is neither.
func parseGwError(status int, body []byte) *gwError {
	var rest struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &rest) == nil && rest.Error.Code != "" {
		return &gwError{HTTPStatus: status, RESTCode: rest.Error.Code, Message: rest.Error.Message}
	}
	e := &gwError{HTTPStatus: status}
	if json.Unmarshal(body, e) == nil && (e.Code != 0 || e.Message != "") {
		return e
	}
	return nil
}

// gwPost posts body to a gateway path. body is a proto.Message (sent as
// protojson, camelCase names), a string or []byte (sent as is), or nil.
func (tn *testNode) gwPost(t *testing.T, token, path string, body any, header map[string]string) gwAnswer {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case proto.Message:
		var err error
		if data, err = protojson.Marshal(b); err != nil {
			t.Fatalf("protojson %T: %v", b, err)
		}
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		t.Fatalf("gwPost: body of type %T", body)
	}
	req, err := http.NewRequest(http.MethodPost, tn.url+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading the answer: %v", path, err)
	}
	return gwAnswer{status: resp.StatusCode, body: out}
}

// gwUnary posts req (as gwPost does) and decodes a 200 answer into out;
// any other answer is returned as a *gwError.
func (tn *testNode) gwUnary(t *testing.T, token, path string, req any, out proto.Message, header map[string]string) error {
	t.Helper()
	a := tn.gwPost(t, token, path, req, header)
	if a.status != http.StatusOK {
		if e := parseGwError(a.status, a.body); e != nil {
			return e
		}
		t.Fatalf("POST %s: HTTP %d with a body that is no error: %s", path, a.status, a.body)
	}
	if err := protojson.Unmarshal(a.body, out); err != nil {
		t.Fatalf("POST %s: the answer is not a %T: %v\n%s", path, out, err, a.body)
	}
	return nil
}

// gwLines splits a streamed gateway answer into its results, each decoded
// with newMsg's message type; an {"error": ...} line (or a non-200 answer)
// is returned as a *gwError after the results before it.
func gwLines[M proto.Message](t *testing.T, a gwAnswer, newMsg func() M) ([]M, error) {
	t.Helper()
	if a.status != http.StatusOK {
		if e := parseGwError(a.status, a.body); e != nil {
			return nil, e
		}
		t.Fatalf("stream: HTTP %d with a body that is no error: %s", a.status, a.body)
	}
	var out []M
	dec := json.NewDecoder(bytes.NewReader(a.body))
	for {
		var line struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		err := dec.Decode(&line)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			t.Fatalf("stream line is not JSON: %v\n%s", err, a.body)
		}
		if len(line.Error) > 0 {
			e := &gwError{HTTPStatus: a.status}
			if err := json.Unmarshal(line.Error, e); err != nil {
				t.Fatalf("stream error line: %v: %s", err, line.Error)
			}
			return out, e
		}
		if len(line.Result) == 0 {
			t.Fatalf("stream line has neither result nor error: %s", a.body)
		}
		m := newMsg()
		if err := protojson.Unmarshal(line.Result, m); err != nil {
			t.Fatalf("stream result is not a %T: %v: %s", m, err, line.Result)
		}
		out = append(out, m)
	}
}

// gwStream posts req to a streaming path and decodes its results.
func gwStream[M proto.Message](t *testing.T, tn *testNode, token, path string, req any, newMsg func() M) ([]M, error) {
	t.Helper()
	return gwLines(t, tn.gwPost(t, token, path, req, nil), newMsg)
}

// mentions reports whether s contains every one of words (case-insensitive).
func mentions(s string, words ...string) bool {
	s = strings.ToLower(s)
	for _, w := range words {
		if !strings.Contains(s, strings.ToLower(w)) {
			return false
		}
	}
	return true
}
