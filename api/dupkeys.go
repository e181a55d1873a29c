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
