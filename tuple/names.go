package tuple

import "fmt"

// Limits on names and identifiers (docs/SCHEMA.md § Names).
const (
	MaxNameLen     = 64   // relation and permission names, type and caveat name segments
	MinNameLen     = 3    // shortest name
	MaxTypeNameLen = 128  // a type or caveat name with all its prefixes
	MaxIDLen       = 1024 // object IDs
	Wildcard       = "*"  // the subject ID meaning "every subject of this type"
	// Ellipsis is SpiceDB's explicit "no relation" subject relation:
	// "user:tom#..." is the subject "user:tom". Parsers accept it and
	// normalize it away; it is never stored or printed.
	Ellipsis = "..."
)

// ValidateName checks a relation or permission name, or one segment of a type
// or caveat name: lowercase
// letters, digits and '_', 3 to 64 characters, starting with a letter or '_'
// (SpiceDB's mark of a private name, _internal) and not ending with '_'.
func ValidateName(s string) error {
	if len(s) < MinNameLen || len(s) > MaxNameLen {
		return fmt.Errorf("%q must be %d to %d characters long, not %d", s, MinNameLen, MaxNameLen, len(s))
	}
	if c := s[0]; (c < 'a' || c > 'z') && c != '_' {
		// A leading '_' marks a private name by SpiceDB's convention.
		return fmt.Errorf("%q must start with a lowercase letter or '_'", s)
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
// one or more "prefix/" segments of the same form (foo/bar/document), at most
// 128 bytes in all.
func ValidateTypeName(s string) error { return validatePrefixed("type", s) }

// ValidateCaveatName checks a caveat name: the same rule as a type name,
// since SpiceDB prefixes caveats the same way (foo/bar/only_on_tuesday).
func ValidateCaveatName(s string) error { return validatePrefixed("caveat", s) }

func validatePrefixed(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%s name is empty", kind)
	}
	if len(s) > MaxTypeNameLen {
		return fmt.Errorf("%s name %q is %d bytes; at most %d are allowed", kind, s, len(s), MaxTypeNameLen)
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '/' {
			if err := ValidateName(s[start:i]); err != nil {
				return fmt.Errorf("%s name %q: segment %w", kind, s, err)
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
