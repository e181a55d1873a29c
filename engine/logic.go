package engine

import (
	"slices"
	"time"
)

// outcome is the result of one sub-problem as the evaluator passes it up.
type outcome struct {
	res     Result
	missing []string  // sorted, unique; only when res is Conditional
	exp     time.Time // earliest expiry on the deciding path; zero: none
	cut     bool      // a cycle was cut below: the result must not be cached
	via     uint64    // the query's Watch bits on the deciding branch
	trace   *Trace
}

var (
	denied  = outcome{res: Denied}
	allowed = outcome{res: Allowed}
)

// or is three-valued disjunction (union):
//
//	 or    | A  C  D
//	-------+---------
//	 A     | A  A  A
//	 C     | A  C  C
//	 D     | A  C  D
//
// Allowed wins; a conditional result keeps the missing parameters of every
// conditional operand.
func or(a, b outcome) outcome {
	cut := a.cut || b.cut
	var o outcome
	switch {
	case a.res == Allowed && b.res == Allowed:
		// Either keeps it allowed: it holds until the later expiry.
		o = outcome{res: Allowed, exp: maxExp(a.exp, b.exp), via: a.via | b.via}
	case a.res == Allowed:
		o = outcome{res: Allowed, exp: a.exp, via: a.via}
	case b.res == Allowed:
		o = outcome{res: Allowed, exp: b.exp, via: b.via}
	case a.res == Conditional || b.res == Conditional:
		o = outcome{res: Conditional, missing: mergeMissing(a, b), exp: minExp(a.exp, b.exp), via: viaIf(a, Conditional) | viaIf(b, Conditional)}
	default:
		o = outcome{res: Denied, exp: minExp(a.exp, b.exp)}
	}
	o.cut = cut
	return o
}

// viaIf is o's via bits when its result is res: the operands of a union
// that decided it are those with its answer.
func viaIf(o outcome, res Result) uint64 {
	if o.res == res {
		return o.via
	}
	return 0
}

// and is three-valued conjunction (intersection):
//
//	 and   | A  C  D
//	-------+---------
//	 A     | A  C  D
//	 C     | C  C  D
//	 D     | D  D  D
func and(a, b outcome) outcome {
	cut := a.cut || b.cut
	var o outcome
	switch {
	case a.res == Denied && b.res == Denied:
		o = outcome{res: Denied, exp: maxExp(a.exp, b.exp)}
	case a.res == Denied:
		o = outcome{res: Denied, exp: a.exp}
	case b.res == Denied:
		o = outcome{res: Denied, exp: b.exp}
	case a.res == Conditional || b.res == Conditional:
		o = outcome{res: Conditional, missing: mergeMissing(a, b), exp: minExp(a.exp, b.exp), via: a.via | b.via}
	default:
		o = outcome{res: Allowed, exp: minExp(a.exp, b.exp), via: a.via | b.via}
	}
	o.cut = cut
	return o
}

// not is three-valued negation: A↔D, C stays C. Exclusion is and(base, not(sub)).
func not(a outcome) outcome {
	a.via = 0 // the subtracted side decides nothing an exclusion grants
	switch a.res {
	case Allowed:
		a.res = Denied
	case Denied:
		a.res = Allowed
	}
	return a
}

func mergeMissing(a, b outcome) []string {
	var x, y []string
	if a.res == Conditional {
		x = a.missing
	}
	if b.res == Conditional {
		y = b.missing
	}
	if len(y) == 0 {
		return x
	}
	if len(x) == 0 {
		return y
	}
	m := make([]string, 0, len(x)+len(y))
	m = append(append(m, x...), y...)
	slices.Sort(m)
	return slices.Compact(m)
}

// minExp returns the earlier of two expiries; zero means never.
func minExp(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

// maxExp returns the later of two expiries; zero (never) is the latest.
func maxExp(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if a.After(b) {
		return a
	}
	return b
}
