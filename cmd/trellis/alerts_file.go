package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxAlertsFile bounds a rules file read by "trellis alerts set|test". The
// server takes at most 256 KiB of rules; YAML with comments may be larger.
const maxAlertsFile = 4 << 20

// alertsFile is a rules file: {"rules": [...]} in JSON, or the same in YAML
// ("rules:" and a list), with an optional "reason".
type alertsFile struct {
	name   string          // the path, or "stdin"
	rules  json.RawMessage // the JSON array of rules, as sent to the server
	names  []string        // each rule's name ("" when it has none), by index
	reason string
}

// readAlertsFile reads and checks the shape of the rules file at path ("-":
// stdin). The rules themselves are validated by the server; the errors here
// name the file and say what is wrong with its shape.
func readAlertsFile(stdin io.Reader, path string) (*alertsFile, error) {
	f := &alertsFile{name: path}
	var r io.Reader
	if path == "-" {
		f.name, r = "stdin", stdin
	} else {
		file, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("rules file %s: %v", path, unwrapPathError(err))
		}
		defer file.Close()
		r = file
	}
	src, err := io.ReadAll(io.LimitReader(r, maxAlertsFile+1))
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %v", f.name, unwrapPathError(err))
	}
	if len(src) > maxAlertsFile {
		return nil, fmt.Errorf("rules file %s is larger than %d MiB; the server takes at most 256 KiB of rules", f.name, maxAlertsFile>>20)
	}
	trimmed := bytes.TrimSpace(src)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf(`rules file %s is empty; want {"rules": [...]} in JSON, or "rules:" and a list in YAML`, f.name)
	}
	var top map[string]json.RawMessage
	if trimmed[0] == '{' {
		top, err = alertsJSONTop(f.name, src)
	} else {
		top, err = alertsYAMLTop(f.name, src)
	}
	if err != nil {
		return nil, err
	}
	return f, f.fill(top)
}

// unwrapPathError drops the "open PATH:" an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// alertsJSONTop decodes a JSON object, reporting a syntax error by line and
// column.
func alertsJSONTop(name string, src []byte) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(src))
	err := dec.Decode(&top)
	if err == nil {
		if _, more := dec.Token(); more != io.EOF {
			line, col := lineCol(src, dec.InputOffset())
			return nil, fmt.Errorf("rules file %s:%d:%d: unexpected data after the JSON object; the file holds one object", name, line, col)
		}
		return top, nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(src, se.Offset)
		return nil, fmt.Errorf("rules file %s:%d:%d: not valid JSON: %v", name, line, col, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("rules file %s: not valid JSON: it ends inside the object", name)
	}
	return nil, fmt.Errorf("rules file %s: not valid JSON: %v", name, err)
}

// lineCol turns a byte offset of src into a 1-based line and column.
func lineCol(src []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(src)))
	before := src[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// alertsYAMLTop decodes a YAML mapping and re-encodes each of its values
// as JSON.
func alertsYAMLTop(name string, src []byte) (map[string]json.RawMessage, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, fmt.Errorf("rules file %s: not valid JSON or YAML: %s", name, strings.ReplaceAll(msg, "\n", " "))
	}
	m, ok := yamlToJSONValue(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`rules file %s: holds a YAML %s, not a mapping; want {"rules": [...]} in JSON, or "rules:" and a list in YAML`, name, yamlShape(v))
	}
	top := make(map[string]json.RawMessage, len(m))
	for k, val := range m {
		b, err := json.Marshal(val)
		if err != nil {
			return nil, fmt.Errorf("rules file %s: %q cannot be written as JSON: %v", name, k, err)
		}
		top[k] = b
	}
	return top, nil
}

// yamlToJSONValue turns what yaml.v3 decodes into something encoding/json
// marshals: mappings with non-string keys get their keys printed.
func yamlToJSONValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = yamlToJSONValue(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = yamlToJSONValue(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = yamlToJSONValue(e)
		}
		return t
	}
	return v
}

func yamlShape(v any) string {
	switch v.(type) {
	case nil:
		return "null (an empty document)"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "scalar"
}

// fill checks the top-level keys and the shape of "rules".
func (f *alertsFile) fill(top map[string]json.RawMessage) error {
	var unknown []string
	for k := range top {
		if k != "rules" && k != "reason" {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf(`rules file %s: unknown key %s; the file holds "rules" (and optionally "reason")`, f.name, strings.Join(unknown, ", "))
	}
	raw, ok := top["rules"]
	if !ok {
		return fmt.Errorf(`rules file %s: no "rules" key; want {"rules": [...]} in JSON, or "rules:" and a list in YAML`, f.name)
	}
	var items []json.RawMessage
	if jsonShape(raw) != "a list" || json.Unmarshal(raw, &items) != nil {
		return fmt.Errorf(`rules file %s: "rules" is %s, want a list of rules (an empty list removes every rule)`, f.name, jsonShape(raw))
	}
	for i, it := range items {
		if jsonShape(it) != "an object" {
			return fmt.Errorf(`rules file %s: rules[%d] is %s, want a rule object such as {"name": ..., "match": {...}, "webhook": {"url": ..., "secret": ...}}`, f.name, i, jsonShape(it))
		}
		var r struct {
			Name any `json:"name"`
		}
		_ = json.Unmarshal(it, &r) // an object: it decodes
		name, _ := r.Name.(string)
		f.names = append(f.names, name)
	}
	f.rules = raw
	if reason, ok := top["reason"]; ok {
		if json.Unmarshal(reason, &f.reason) != nil {
			return fmt.Errorf(`rules file %s: "reason" is %s, want a string`, f.name, jsonShape(reason))
		}
	}
	return nil
}

// jsonShape names the kind of a JSON value, for error messages.
func jsonShape(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "empty"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
