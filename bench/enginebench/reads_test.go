package enginebench

import (
	"context"
	"iter"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// counted is a store snapshot that counts the reads the engine makes of it:
// point reads (a relationship, the index's counts or pairs) and scans (a
// prefix iterator). Reads per query do not depend on the machine, so they
// show what a change of the check path saves where timings are noisy. It
// passes every call on unchanged, so the engine takes the same paths
// (nested-group index, one-scan subject listing) as on the snapshot.
type counted struct {
	*storage.Snapshot
	points, scans      atomic.Int64
	subj, res, sr, anc atomic.Int64
}

func (c *counted) Relationship(ctx context.Context, res tuple.ObjectRef, rel string, subj tuple.SubjectRef) (tuple.Relationship, bool, error) {
	c.points.Add(1)
	return c.Snapshot.Relationship(ctx, res, rel, subj)
}

func (c *counted) Subjects(ctx context.Context, res tuple.ObjectRef, rel, subjType string) iter.Seq2[tuple.Relationship, error] {
	c.scans.Add(1)
	c.subj.Add(1)
	return c.Snapshot.Subjects(ctx, res, rel, subjType)
}

func (c *counted) Resources(ctx context.Context, subj tuple.SubjectRef, resType, rel string) iter.Seq2[tuple.Relationship, error] {
	c.scans.Add(1)
	c.res.Add(1)
	return c.Snapshot.Resources(ctx, subj, resType, rel)
}

func (c *counted) SubjectRelationships(ctx context.Context, subj tuple.SubjectRef) iter.Seq2[tuple.Relationship, error] {
	c.scans.Add(1)
	c.sr.Add(1)
	return c.Snapshot.SubjectRelationships(ctx, subj)
}

func (c *counted) GroupCovers(ctx context.Context, group tuple.SubjectRef) (bool, bool, error) {
	c.points.Add(1)
	return c.Snapshot.GroupCovers(ctx, group)
}

func (c *counted) GroupContains(ctx context.Context, group, member tuple.SubjectRef) (bool, bool, error) {
	c.points.Add(1)
	return c.Snapshot.GroupContains(ctx, group, member)
}

func (c *counted) EachGroupAncestor(ctx context.Context, member tuple.SubjectRef, fn func(tuple.SubjectRef, bool) bool) error {
	c.scans.Add(1)
	c.anc.Add(1)
	return c.Snapshot.EachGroupAncestor(ctx, member, fn)
}

// report reports the reads c counted per query (n queries).
func (c *counted) report(b *testing.B, n int, per string) {
	b.ReportMetric(float64(c.points.Load())/float64(n), "points/"+per)
	b.ReportMetric(float64(c.scans.Load())/float64(n), "scans/"+per)
	b.ReportMetric(float64(c.subj.Load())/float64(n), "subjects/"+per)
	b.ReportMetric(float64(c.res.Load())/float64(n), "resources/"+per)
	b.ReportMetric(float64(c.sr.Load())/float64(n), "subjrels/"+per)
	b.ReportMetric(float64(c.anc.Load())/float64(n), "anc/"+per)
}

// cpuTime is the CPU time the process has used (user and system): per
// query, it is a figure that CPU time stolen by other tenants of a shared
// machine does not inflate, unlike wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
