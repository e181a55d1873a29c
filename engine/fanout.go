package engine

import (
	"context"
	"slices"
)

func sortStrings(s []string) { slices.Sort(s) }

// DefaultParallelBranches is Config.ParallelBranches by default. Fewer
// branches run in line, in order, stopping at the first decisive one: the
// operands of a permission's expression and the few groups or links of a
// typical relation finish sooner than a goroutine starts and grows its stack
// (on the deep workload in-line evaluation took a check from 60 to 23 µs;
// bench/RESULTS.md, "nested-group index").
const DefaultParallelBranches = 4

// combine evaluates n branches and joins them: with or when decisive is
// Allowed (a union), with and when it is Denied (an intersection). The first
// branch whose result is decisive settles the answer and cancels the others.
//
// With Config.ParallelBranches or more, branches run in extra goroutines while
// the query has concurrency tokens to spare and in line otherwise, so the fan-out is bounded and never waits for a
// token. An error in one branch does not stop the others: a decisive result
// wins over an error, which is returned only when no branch decided.
func (q *query) combine(ctx context.Context, kind string, n int, decisive Result, branch func(context.Context, int) (outcome, error)) (outcome, error) {
	join, acc := or, denied
	if decisive == Denied {
		join, acc = and, allowed
	}
	if n == 0 {
		acc = denied // an empty union or intersection grants nothing
		if q.explain {
			acc.trace = &Trace{Kind: kind, Result: acc.res.String()}
		}
		return acc, nil
	}
	var traces []*Trace
	if q.explain {
		traces = make([]*Trace, n)
	}
	var firstErr error
	settled := false
	take := func(i int, o outcome, err error) {
		if settled {
			return
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		acc = join(acc, o)
		if traces != nil {
			traces[i] = o.trace
		}
		if o.res == decisive {
			settled = true
		}
	}
	// An explained question runs its branches in order, so the same question
	// always gets the same trace (concurrent branches would race to decide,
	// and the trace would show whichever won).
	if q.sem == nil || n < q.e.cfg.ParallelBranches || q.explain {
		for i := 0; i < n && !settled; i++ {
			o, err := branch(ctx, i)
			take(i, o, err)
		}
	} else {
		cctx, cancel := context.WithCancel(ctx)
		type item struct {
			i   int
			o   outcome
			err error
		}
		results := make(chan item, n)
		running := 0
		for i := 0; i < n && !settled; i++ {
			select {
			case q.sem <- struct{}{}:
				running++
				go func() {
					defer func() { <-q.sem }()
					o, err := branch(cctx, i)
					results <- item{i, o, err}
				}()
			default:
				o, err := branch(cctx, i)
				take(i, o, err)
			}
			// Collect what has finished so a decisive result stops the loop.
		drain:
			for running > 0 {
				select {
				case it := <-results:
					running--
					take(it.i, it.o, it.err)
				default:
					break drain
				}
			}
		}
		if settled {
			cancel()
		}
		for ; running > 0; running-- {
			it := <-results
			take(it.i, it.o, it.err)
			if settled {
				cancel()
			}
		}
		cancel()
	}
	if !settled && firstErr != nil {
		return outcome{}, firstErr
	}
	if q.explain {
		acc.trace = &Trace{Kind: kind, Result: acc.res.String(), Missing: acc.missing, Children: slices.DeleteFunc(traces, func(t *Trace) bool { return t == nil })}
	}
	return acc, nil
}
