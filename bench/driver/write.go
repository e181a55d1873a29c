package driver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// writeStats is shared by the writers, under mu.
type writeStats struct {
	mu        sync.Mutex
	hist      histogram
	attempted int64
	ok        int64
	skipped   int64
	errors    map[string]int64
}

func newWriteStats() *writeStats { return &writeStats{errors: map[string]int64{}} }

func (w *writeStats) report(rate, elapsed float64) *WriteReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	rep := &WriteReport{
		TargetRate: rate,
		Attempted:  w.attempted,
		OK:         w.ok,
		Skipped:    w.skipped,
		Errors:     w.errors,
		Latency:    w.hist.summary(),
	}
	if elapsed > 0 {
		rep.AchievedRate = float64(w.ok) / elapsed
	}
	return rep
}

type writeUpdate struct {
	Op           string `json:"op"`
	Relationship string `json:"relationship"`
}

type writeBody struct {
	Updates []writeUpdate `json:"updates"`
	Reason  string        `json:"reason"`
}

// writeOp returns the k-th write of the mix: pass 0 over the pool touches,
// pass 1 deletes, pass 2 touches again, ...
func writeOp(pool []string, k int64) writeUpdate {
	n := int64(len(pool))
	op := "touch"
	if (k/n)%2 == 1 {
		op = "delete"
	}
	return writeUpdate{Op: op, Relationship: pool[k%n]}
}

// writeMix issues writes at cfg.WriteRate per second until ctx ends. A tick
// finds a free writer or is counted as skipped, so a slow server lowers the
// achieved rate instead of queueing writes without bound.
// write sends the k-th update of the mix over the run's transport.
func (r *runner) write(ctx context.Context, id int, k int64) error {
	if r.grpc != nil {
		return r.grpc.write(ctx, id, k)
	}
	body, err := json.Marshal(writeBody{Updates: []writeUpdate{writeOp(r.cfg.WritePool, k)}, Reason: writeReason})
	if err != nil {
		return &queryError{"encode", err}
	}
	return r.call(ctx, http.MethodPost, "/v1/relationships/write", body, nil)
}

func (r *runner) writeMix(ctx context.Context, ws *writeStats) {
	jobs := make(chan int64)
	var wg sync.WaitGroup
	for id := range r.cfg.WriteClients {
		wg.Go(func() {
			for k := range jobs {
				r.write1(ctx, id, ws, k)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / r.cfg.WriteRate)
	tick := time.NewTicker(max(interval, time.Microsecond))
	defer func() {
		tick.Stop()
		close(jobs)
		wg.Wait()
	}()
	var k int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case jobs <- k:
			k++
		default:
			ws.mu.Lock()
			ws.skipped++
			ws.mu.Unlock()
		}
	}
}

// writeReason is the reason every write of the mix gives.
const writeReason = "trellis-bench write mix"

func (r *runner) write1(ctx context.Context, id int, ws *writeStats, k int64) {
	start := time.Now()
	err := r.write(ctx, id, k)
	elapsed := time.Since(start)
	if err != nil && ctx.Err() != nil {
		return // cut off by the end of the run
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.attempted++
	if err != nil {
		kind := "transport"
		var qe *queryError
		if errors.As(err, &qe) {
			kind = qe.kind
		}
		ws.errors[kind]++
		return
	}
	ws.ok++
	ws.hist.record(elapsed)
}
