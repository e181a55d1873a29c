package tuple

import "fmt"

// Limits on names and identifiers (docs/SCHEMA.md § Names).
const (
	MaxNameLen     = 64   // relation, permission, caveat, parameter and type segment names
	MinNameLen     = 3    // shortest name
	MaxTypeNameLen = 128  // a type name with all its prefixes
	MaxIDLen       = 1024 // object IDs
	Wildcard       = "*"  // the subject ID meaning "every subject of this type"
)

// ValidateName checks a relation, permission, caveat or parameter name: lowercase
// letters, digits and '_', 3 to 64 characters, starting with a letter and not
// ending with '_'.
func ValidateName(s string) error {
	if len(s) < MinNameLen || len(s) > MaxNameLen {
		return fmt.Errorf("%q must be %d to %d characters long, not %d", s, MinNameLen, MaxNameLen, len(s))
	}
	if c := s[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("%q must start with a lowercase letter", s)
	}
	if s[len(s)-1] == '_' {
		return fmt.Errorf("%q must not end with '_'", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isNameByte(c) {
			return fmt.Errorf("%q has %q at byte %d; only lowercase letters, digits and '_' are allowed", s, c, i)
		}
	}
	return nil
}

// ValidateTypeName checks an object type name: one name, optionally prefixed by
// one or more "prefix/" segments of the same form, at most 128 bytes in all.
func ValidateTypeName(s string) error {
	if s == "" {
		return fmt.Errorf("type name is empty")
	}
	if len(s) > MaxTypeNameLen {
		return fmt.Errorf("type name %q is %d bytes; at most %d are allowed", s, len(s), MaxTypeNameLen)
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '/' {
			if err := ValidateName(s[start:i]); err != nil {
				return fmt.Errorf("type name %q: segment %w", s, err)
			}
			start = i + 1
		}
	}
	return nil
}

// ValidateID checks an object ID: 1 to 1024 bytes of [a-zA-Z0-9/_|-=+]. The
// wildcard "*" is not accepted here; subjects check it separately.
func ValidateID(s string) error {
	if s == "" {
		return fmt.Errorf("object ID is empty")
	}
	if len(s) > MaxIDLen {
		return fmt.Errorf("object ID is %d bytes; at most %d are allowed", len(s), MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		if !isIDByte(s[i]) {
			return fmt.Errorf("object ID %q has %q at byte %d; only letters, digits and / _ | - = + are allowed", s, s[i], i)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
}

func isIDByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '/', '_', '|', '-', '=', '+':
		return true
	}
	return false
}
