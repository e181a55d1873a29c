package audit

import (
	"fmt"
	"sync"
)

// DecisionRecord is one record of a decision chain as a line of the chain
// file holds it: the record index, the previous record's hash (hex), the
// decision and this record's hash (hex), see DecisionLog.
type DecisionRecord struct {
	Index uint64 `json:"index"`
	Prev  string `json:"prev"`
	Decision
	Hash string `json:"hash"`
}

// DefaultDecisionRecent is how many of its latest records a DecisionLog
// keeps in memory for its feed when DecisionConfig.Recent is 0.
const DefaultDecisionRecent = 1000

// DecisionFeed is the in-memory side of a DecisionLog: the latest records
// this process appended (a ring of fixed size) and the subscribers that
// receive each record as it is appended. Publishing never blocks: a
// subscriber whose buffer is full is dropped (its channel closed, Missed
// set), so a slow reader cannot slow a check down. Safe for concurrent use.
type DecisionFeed struct {
	mu       sync.Mutex
	ring     []DecisionRecord // ring[(first+i)%len(ring)], i < n, in index order
	first, n int
	next     uint64 // the index the next record will have
	subs     map[*DecisionSubscription]struct{}
}

// newDecisionFeed returns a feed keeping size records whose next record has
// index next (the chain's head count).
func newDecisionFeed(size int, next uint64) *DecisionFeed {
	return &DecisionFeed{ring: make([]DecisionRecord, size), next: next, subs: map[*DecisionSubscription]struct{}{}}
}

// publish keeps r and offers it to every subscriber. DecisionLog calls it
// under its own lock, so records arrive in index order.
func (f *DecisionFeed) publish(r DecisionRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size := len(f.ring); size > 0 {
		if f.n < size {
			f.ring[(f.first+f.n)%size] = r
			f.n++
		} else {
			f.ring[f.first] = r
			f.first = (f.first + 1) % size
		}
	}
	f.next = r.Index + 1
	for s := range f.subs {
		select {
		case s.c <- r:
		default: // full: drop the subscriber rather than wait
			s.missed, s.lagged = r.Index, true
			delete(f.subs, s)
			close(s.c)
		}
	}
}

// window returns the index of the oldest record kept and the next index,
// under f.mu.
func (f *DecisionFeed) window() (oldest, next uint64) {
	return f.next - uint64(f.n), f.next
}

// Window returns the index of the oldest record the feed keeps and the index
// the next record will have; oldest == next when it keeps none.
func (f *DecisionFeed) Window() (oldest, next uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.window()
}

// Kept is the number of records the feed keeps at most.
func (f *DecisionFeed) Kept() int { return len(f.ring) }

// Recent returns up to limit of the latest records, oldest first, and the
// index the next record will have.
func (f *DecisionFeed) Recent(limit int) ([]DecisionRecord, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := min(max(limit, 0), f.n)
	out := make([]DecisionRecord, k)
	for i := range k {
		out[i] = f.ring[(f.first+f.n-k+i)%len(f.ring)]
	}
	return out, f.next
}

// Subscribe returns the kept records with an index of at least from, oldest
// first, and a subscription that receives every record appended after them
// (no gap, no duplicate), with room for buffer records not yet read. A from
// after the next index is ErrBadRange; a from older than the oldest record
// kept is ErrNotFound (those records are only in the chain file). Close the
// subscription when done.
func (f *DecisionFeed) Subscribe(from uint64, buffer int) ([]DecisionRecord, *DecisionSubscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	oldest, next := f.window()
	switch {
	case from > next:
		return nil, nil, fmt.Errorf("%w: decision record %d is after the chain's next record %d", ErrBadRange, from, next)
	case from < oldest:
		return nil, nil, fmt.Errorf("%w: decision record %d is no longer kept in memory (records %d..%d are)", ErrNotFound, from, oldest, next)
	}
	k := int(next - from)
	backlog := make([]DecisionRecord, k)
	for i := range k {
		backlog[i] = f.ring[(f.first+f.n-k+i)%len(f.ring)]
	}
	s := &DecisionSubscription{feed: f, c: make(chan DecisionRecord, max(buffer, 1))}
	f.subs[s] = struct{}{}
	return backlog, s, nil
}

// Subscribers is the number of open subscriptions.
func (f *DecisionFeed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// DecisionSubscription receives the records a DecisionLog appends.
type DecisionSubscription struct {
	feed *DecisionFeed
	c    chan DecisionRecord
	// Set under feed.mu before c is closed.
	lagged bool
	missed uint64
}

// C delivers the records in index order. It is closed when the subscriber
// fell behind by more than its buffer (see Missed) or was closed.
func (s *DecisionSubscription) C() <-chan DecisionRecord { return s.c }

// Missed reports, once C is closed, whether the subscriber was dropped for
// falling behind, and the index of the first record it did not receive.
func (s *DecisionSubscription) Missed() (index uint64, dropped bool) {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	return s.missed, s.lagged
}

// Close ends the subscription (closing C if it is still open).
func (s *DecisionSubscription) Close() {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	if _, ok := s.feed.subs[s]; ok {
		delete(s.feed.subs, s)
		close(s.c)
	}
}
