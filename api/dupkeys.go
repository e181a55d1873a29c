package api

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// duplicateKey reports the first object key that appears twice in one JSON
// object of b, with its path ("items[2].context.purpose") and the byte
// offset just after it. encoding/json keeps the last of two equal keys
// without a word, so a body could say two things and be read as one. Syntax
// errors are left to the decoder (found is false).
func duplicateKey(b []byte) (path string, offset int64, found bool) {
	if !mayHaveDuplicateKey(b) {
		return "", 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	path, offset, found, _ = scanValue(dec, "")
	return path, offset, found
}

// scanValue reads one JSON value from dec and reports a duplicate key in it.
func scanValue(dec *json.Decoder, path string) (dup string, offset int64, found bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return "", 0, false, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return "", 0, false, nil // a scalar
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", 0, false, err
			}
			k, _ := kt.(string)
			p := k
			if path != "" {
				p = path + "." + k
			}
			if seen[k] {
				return p, dec.InputOffset(), true, nil
			}
			seen[k] = true
			if dup, offset, found, err = scanValue(dec, p); found || err != nil {
				return dup, offset, found, err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if dup, offset, found, err = scanValue(dec, path+"["+strconv.Itoa(i)+"]"); found || err != nil {
				return dup, offset, found, err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return "", 0, false, err
}

// mayHaveDuplicateKey is duplicateKey's fast path: one pass over the bytes,
// comparing each object's keys as written, without decoding or allocating
// for a body of a few levels. It answers false only when no object has two
// equal keys; a key with an escape (which could spell another key
// differently) or a duplicate sends the body to the decoder-based scan,
// which finds the path.
func mayHaveDuplicateKey(b []byte) bool {
	type frame struct {
		object, expectKey bool
		keys              [][]byte
	}
	var stackBuf [8]frame
	stack := stackBuf[:0]
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			stack = append(stack, frame{object: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case '"':
			start, escaped := i+1, false
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					escaped = true
					i++
				}
			}
			n := len(stack)
			if n == 0 || !stack[n-1].object || !stack[n-1].expectKey {
				continue
			}
			if escaped {
				return true
			}
			key := b[start:min(i, len(b))]
			top := &stack[n-1]
			if len(top.keys) == 32 {
				return true // a wide object: the decoder-based scan uses a map
			}
			for _, k := range top.keys {
				if bytes.Equal(k, key) {
					return true
				}
			}
			top.keys = append(top.keys, key)
			top.expectKey = false
		}
	}
	return false
}
