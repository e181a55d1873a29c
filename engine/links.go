package engine

import (
	"context"

	"github.com/trellis-authz/trellis/tuple"
)

// tuplesetLinks returns the live, non-wildcard relationships of
// res#tupleset, read once per query.
func (q *query) tuplesetLinks(ctx context.Context, res tuple.ObjectRef, tupleset string) ([]tuple.Relationship, error) {
	k := linkKey{res, tupleset}
	q.linksMu.Lock()
	links, ok := q.links[k]
	q.linksMu.Unlock()
	if ok {
		return links, nil
	}
	for rel, err := range q.v.Reader.Subjects(ctx, res, tupleset, "") {
		if err != nil {
			return nil, err
		}
		if rel.Subject.IsWildcard() || rel.ExpiredAt(q.now) {
			continue
		}
		links = append(links, rel)
	}
	q.linksMu.Lock()
	if q.links == nil {
		q.links = make(map[linkKey][]tuple.Relationship, 4)
	}
	q.links[k] = links
	q.linksMu.Unlock()
	return links, nil
}
