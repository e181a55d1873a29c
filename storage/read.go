package storage

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/trellis-authz/trellis/tuple"
)

// plan is the key range a filter reads: the forward or the reverse index, and
// the longest key prefix the filter pins down.
type plan struct {
	reverse bool
	prefix  []byte
}

// planFor picks the index for a filter. The forward index serves filters that
// name a resource type, unless only the subject pins down a narrower range
// (a subject ID without a resource ID); the reverse index serves subject
// filters; an empty filter scans the forward index whole.
func planFor(f tuple.Filter) (plan, error) {
	f = f.Normalize() // a subject relation "..." reads as "" (plain subjects)
	if hasSep(f.ResourceType, f.ResourceID, f.ResourceIDPrefix, f.Relation) {
		return plan{}, errors.New("filter names must not contain 0x00")
	}
	if f.ResourceID != "" && f.ResourceIDPrefix != "" {
		return plan{}, errors.New("filter gives resource_id and resource_id_prefix; give one")
	}
	sub := f.Subject
	if sub != nil {
		if sub.Type == "" {
			return plan{}, errors.New("a subject filter needs a type")
		}
		if hasSep(sub.Type, sub.ID) || (sub.Relation != nil && hasSep(*sub.Relation)) {
			return plan{}, errors.New("filter names must not contain 0x00")
		}
	}
	useReverse := sub != nil && (f.ResourceType == "" || (sub.ID != "" && f.ResourceID == "" && f.ResourceIDPrefix == ""))
	if !useReverse {
		p := []byte(pfxForward)
		if f.ResourceType == "" {
			return plan{prefix: p}, nil
		}
		p = append(append(p, f.ResourceType...), sep)
		switch {
		case f.ResourceIDPrefix != "":
			p = append(p, f.ResourceIDPrefix...)
		case f.ResourceID != "":
			p = append(append(p, f.ResourceID...), sep)
			if f.Relation != "" {
				p = append(append(p, f.Relation...), sep)
				if sub != nil {
					p = append(append(p, sub.Type...), sep)
					if sub.ID != "" {
						p = append(append(p, sub.ID...), sep)
					}
				}
			}
		}
		return plan{prefix: p}, nil
	}
	p := append(append([]byte(pfxReverse), sub.Type...), sep)
	if sub.ID != "" {
		p = append(append(p, sub.ID...), sep)
		if sub.Relation != nil {
			p = append(append(p, *sub.Relation...), sep)
			if f.ResourceType != "" {
				p = append(append(p, f.ResourceType...), sep)
				if f.Relation != "" {
					p = append(append(p, f.Relation...), sep)
					if f.ResourceID != "" {
						p = append(p, f.ResourceID...) // last field: Matches checks the rest
					} else if f.ResourceIDPrefix != "" {
						p = append(p, f.ResourceIDPrefix...)
					}
				}
			}
		}
	}
	return plan{reverse: true, prefix: p}, nil
}

// scan walks the plan's range from start (or the range's start), keeps the
// relationships that match f (nil matches all) and have not expired at now (a
// zero now keeps expired ones), and calls fn with each key and relationship
// until fn returns false. Values are read only for entries whose userMeta says
// they hold a caveat or an expiration.
func scan(txn *badger.Txn, p plan, f *tuple.Filter, start []byte, now time.Time, fn func(key []byte, r tuple.Relationship) (bool, error)) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p.prefix})
	defer it.Close()
	if start == nil {
		start = p.prefix
	}
	for it.Seek(start); it.ValidForPrefix(p.prefix); it.Next() {
		item := it.Item()
		k := item.Key()
		var r tuple.Relationship
		var err error
		if p.reverse {
			r, err = parseReverseKey(k)
		} else {
			r, err = parseForwardKey(k)
		}
		if err != nil {
			return err
		}
		if f != nil && !f.Matches(r) {
			continue
		}
		if item.UserMeta() != 0 {
			if err := item.Value(func(v []byte) error { return decodeValue(v, &r) }); err != nil {
				return err
			}
			if !now.IsZero() && r.ExpiredAt(now) {
				continue
			}
		}
		more, err := fn(k, r)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Cursor: base64url of a version byte, the index byte ('t' or 'r') and the
// last key returned.
const cursorVersion = 1

func encodeCursor(p plan, lastKey []byte) string {
	b := make([]byte, 0, 2+len(lastKey))
	idx := byte('t')
	if p.reverse {
		idx = 'r'
	}
	b = append(append(b, cursorVersion, idx), lastKey...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the key to seek to: the successor of the last key.
func decodeCursor(p plan, c string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 3 || b[0] != cursorVersion {
		return nil, fmt.Errorf("%w: not a cursor from this store; pass the next cursor of the previous page unchanged", ErrInvalidCursor)
	}
	idx := byte('t')
	if p.reverse {
		idx = 'r'
	}
	last := b[2:]
	if b[1] != idx || !bytes.HasPrefix(last, p.prefix) {
		return nil, fmt.Errorf("%w: the cursor belongs to a different filter; read again from the start", ErrInvalidCursor)
	}
	return append(last, sep), nil
}
