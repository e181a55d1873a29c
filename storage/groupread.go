package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/trellis-authz/trellis/tuple"
)

// GroupIndexed reports whether the nested-group index is complete at the
// snapshot's revision (it is from the revision it was first built or last
// rebuilt at; see ADR 0010).
func (sn *Snapshot) GroupIndexed() bool {
	switch sn.gidx.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	ok := false
	if from := sn.st.gidxFrom.Load(); from != 0 {
		// The marker's value, kept by the store since Open or the last
		// rebuild: no read.
		ok = from <= sn.rev
	} else if item, err := sn.txn.Get(keyGroupIndex); err == nil {
		_ = item.Value(func(v []byte) error {
			ok = len(v) == 8 && binary.BigEndian.Uint64(v) <= sn.rev
			return nil
		})
	}
	if ok {
		sn.gidx.Store(1)
	} else {
		sn.gidx.Store(2)
	}
	return ok
}

// GroupCovers reports whether the index keeps the closure of the subject
// set group (some relationship names group as its subject: it is a member
// of another set) and whether group holds any subject set (a relationship
// group@T:x#r, x not "*", expired or not). Call it only when GroupIndexed.
func (sn *Snapshot) GroupCovers(ctx context.Context, group tuple.SubjectRef) (covered, holdsSets bool, err error) {
	if err := sn.valid(); err != nil {
		return false, false, err
	}
	if hasSep(group.Type, group.ID, group.Relation) {
		return false, false, errSep
	}
	c, err := readCounts(sn.txn, setNode(group.Type, group.ID, group.Relation))
	if err != nil {
		return false, false, fmt.Errorf("storage: read the nested-group index: %w", err)
	}
	return c.holders > 0, c.kids > 0, sn.valid()
}

// GroupContains reports whether the subject set member is inside the subject
// set group through subject-set relationships at any depth (found), and
// whether a path of relationships without caveat or expiration joins them
// (clean). A set is inside itself only through a cycle. The answer is
// complete only for a group GroupCovers. Call it only when GroupIndexed.
func (sn *Snapshot) GroupContains(ctx context.Context, group, member tuple.SubjectRef) (found, clean bool, err error) {
	if err := sn.valid(); err != nil {
		return false, false, err
	}
	if hasSep(group.Type, group.ID, group.Relation, member.Type, member.ID, member.Relation) {
		return false, false, errSep
	}
	k := pairKey(pfxGroupDown, setNode(group.Type, group.ID, group.Relation), setNode(member.Type, member.ID, member.Relation))
	item, err := sn.txn.Get(k)
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, false, sn.valid()
	case err != nil:
		return false, false, fmt.Errorf("storage: read the nested-group index: %w", err)
	}
	err = item.Value(func(v []byte) error { clean = len(v) == 1 && v[0] == 1; return nil })
	if err == nil {
		err = sn.valid()
	}
	return err == nil, clean, err
}

// GroupAncestor is a subject set that holds another at some depth.
type GroupAncestor struct {
	Set   tuple.SubjectRef
	Clean bool // joined by a path without caveats or expirations
}

// GroupAncestors yields every subject set that holds member at any depth,
// in key order. Call it only when GroupIndexed.
func (sn *Snapshot) GroupAncestors(ctx context.Context, member tuple.SubjectRef) iter.Seq2[GroupAncestor, error] {
	return func(yield func(GroupAncestor, error) bool) {
		stopped := false
		err := sn.EachGroupAncestor(ctx, member, func(set tuple.SubjectRef, clean bool) bool {
			if !yield(GroupAncestor{Set: set, Clean: clean}, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(GroupAncestor{}, err)
		}
	}
}

// EachGroupAncestor calls fn with every subject set that holds member at any
// depth (in key order) and whether a path without caveats or expirations
// joins them, until fn returns false: GroupAncestors without an iterator
// type of this package, for the engine. Call it only when GroupIndexed.
func (sn *Snapshot) EachGroupAncestor(ctx context.Context, member tuple.SubjectRef, fn func(set tuple.SubjectRef, clean bool) bool) error {
	if err := sn.valid(); err != nil {
		return err
	}
	if hasSep(member.Type, member.ID, member.Relation) {
		return errSep
	}
	p := pairKey(pfxGroupUp, setNode(member.Type, member.ID, member.Relation), "")
	it := sn.txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		set := node(item.Key()[len(p):]).subject()
		clean := false
		if err := item.Value(func(v []byte) error { clean = len(v) == 1 && v[0] == 1; return nil }); err != nil {
			return err
		}
		if !fn(set, clean) {
			return nil
		}
	}
	return sn.valid()
}

// SubjectRelationships yields every live relationship whose subject is
// exactly subject (reverse index), of any resource type and relation.
func (sn *Snapshot) SubjectRelationships(ctx context.Context, subject tuple.SubjectRef) iter.Seq2[tuple.Relationship, error] {
	return func(yield func(tuple.Relationship, error) bool) {
		if hasSep(subject.Type, subject.ID, subject.Relation) {
			yield(tuple.Relationship{}, errSep)
			return
		}
		p := make([]byte, 0, 64)
		p = append(append(p, pfxReverse...), subject.Type...)
		p = append(append(append(p, sep), subject.ID...), sep)
		p = append(append(p, subject.Relation...), sep)
		sn.iterate(ctx, plan{reverse: true, prefix: p}, nil, nil, yield)
	}
}
