package engine

// SubjectReads reports how many queries read all of their subject's
// relationships at once, and all of its groups (subjectreads.go), so tests
// can tell that they exercised those paths.
func SubjectReads(e *Engine) (rels, groups uint64) {
	return e.subjRelReads.Load(), e.ancReads.Load()
}

// ArrowsDenied reports how many arrows were denied without a read because
// their target could not hold for the subject (impossible.go).
func ArrowsDenied(e *Engine) uint64 { return e.arrowsDenied.Load() }

// SetsAnswered reports how many relations had their subject sets answered
// from the subject's groups without a check per set (setsFromGroups).
func SetsAnswered(e *Engine) uint64 { return e.setsAnswered.Load() }
