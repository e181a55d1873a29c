package engine

import (
	"context"
	"sync"
)

// bulkMemoEntries bounds the results one CheckBulk call shares between items.
const bulkMemoEntries = 1 << 16

// CheckBulk answers every request, in the same order. The items share their
// sub-problem results with each other (even with the cache disabled), so a
// bulk over many resources that reach the same groups evaluates each group
// once. Items run on at most Config.Concurrency goroutines; an error in one
// item is reported in its BulkResult and does not affect the others.
func (e *Engine) CheckBulk(ctx context.Context, v View, reqs []CheckRequest) []BulkResult {
	out := make([]BulkResult, len(reqs))
	if err := checkView(v); err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	memo := newMemo()
	one := func(i int) {
		req := reqs[i]
		if err := validateCheck(v.Schema, req); err != nil {
			out[i].Err = err
			return
		}
		q := e.newQuery(v, req.Context, req.Explain)
		q.sem = nil // the items are the fan-out
		q.memo = memo
		q.root = req.Resource
		q.watching(req.Watch)
		o, err := q.check(ctx, req.Resource, req.Permission, req.Subject, 0, nil)
		if err != nil {
			out[i].Err = err
			return
		}
		out[i].Result = o.result()
		if req.Watch != nil && o.res != Denied {
			out[i].Result.Watched = req.Watch.specBits(o.via)
		}
	}
	workers := min(e.cfg.Concurrency, len(reqs))
	if workers <= 1 {
		for i := range reqs {
			one(i)
		}
		return out
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				one(i)
			}
		})
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}
