package tuple

import (
	"slices"
	"time"
)

// Suspension is one suspended subject (issue 18, docs/suspension.md): while it
// is in force, the subject gets no permission at all, and a suspended subject
// set (team:ml#member) grants nothing through itself. It is replicated
// through raft and stored at a revision, so a read at revision r sees exactly
// the suspensions committed by r.
type Suspension struct {
	Subject   SubjectRef
	Reason    string
	Principal string     // who suspended it
	Since     time.Time  // leader-chosen time of the suspend command
	Until     *time.Time // nil: until unsuspended
	Revision  uint64     // the revision that wrote it
}

// Active reports whether the suspension is in force at now. A suspension with
// an Until at or before now has lapsed (it stays stored until unsuspended).
func (s Suspension) Active(now time.Time) bool {
	return s.Until == nil || now.Before(*s.Until)
}

// SuspensionSet is the suspensions stored at one revision: immutable, shared
// by every reader of that revision. A nil *SuspensionSet is the empty set.
type SuspensionSet struct {
	list []Suspension // sorted by subject string
	by   map[SubjectRef]int
	sets bool // some subject with a relation (a subject set) is suspended
}

// NewSuspensionSet builds a set from suspensions of distinct subjects; it
// returns nil for none.
func NewSuspensionSet(list []Suspension) *SuspensionSet {
	if len(list) == 0 {
		return nil
	}
	s := &SuspensionSet{list: slices.Clone(list), by: make(map[SubjectRef]int, len(list))}
	slices.SortFunc(s.list, func(a, b Suspension) int {
		switch as, bs := a.Subject.String(), b.Subject.String(); {
		case as < bs:
			return -1
		case as > bs:
			return 1
		}
		return 0
	})
	for i, x := range s.list {
		s.by[x.Subject] = i
		if x.Subject.Relation != "" {
			s.sets = true
		}
	}
	return s
}

// Len is the number of stored suspensions, lapsed ones included.
func (s *SuspensionSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// All returns the suspensions sorted by subject. The slice must not be
// modified.
func (s *SuspensionSet) All() []Suspension {
	if s == nil {
		return nil
	}
	return s.list
}

// Lookup returns the suspension of subj in force at now.
func (s *SuspensionSet) Lookup(subj SubjectRef, now time.Time) (Suspension, bool) {
	if s == nil {
		return Suspension{}, false
	}
	i, ok := s.by[subj]
	if !ok || !s.list[i].Active(now) {
		return Suspension{}, false
	}
	return s.list[i], true
}

// HasSets reports whether some subject set (a subject with a relation) has a
// suspension in force at now.
func (s *SuspensionSet) HasSets(now time.Time) bool {
	if s == nil || !s.sets {
		return false
	}
	for _, x := range s.list {
		if x.Subject.Relation != "" && x.Active(now) {
			return true
		}
	}
	return false
}
