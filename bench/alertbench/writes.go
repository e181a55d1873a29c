package alertbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// WriteResult is one closed-loop write run.
type WriteResult struct {
	OK int64
	// Applied are the numbers k of the writes accepted; Cut those cut off
	// by the end of the run (perhaps applied, perhaps not).
	Applied, Cut []int64
	Errors       map[string]int64
	Elapsed      time.Duration
	P50, P99     time.Duration
}

// Rate is the accepted writes per second.
func (r WriteResult) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// WriteLoop runs writers clients for d, each sending one write at a time
// to POST /v1/relationships/write at endpoint: the k-th write (k counted
// across the clients from *next) is pool[k mod len] touched on even passes
// over the pool and deleted on odd ones, as the driver's write mix does.
func WriteLoop(ctx context.Context, endpoint string, pool []string, writers int, d time.Duration, next *atomic.Int64) (WriteResult, error) {
	if len(pool) == 0 {
		return WriteResult{}, fmt.Errorf("the write pool is empty")
	}
	bodies := make([][]byte, 2*len(pool)) // touch of pool[i] at i, delete at len+i
	for i, rel := range pool {
		for j, op := range []string{"touch", "delete"} {
			b, err := json.Marshal(map[string]any{"updates": []map[string]string{{"op": op, "relationship": rel}}, "reason": "alertbench"})
			if err != nil {
				return WriteResult{}, err
			}
			bodies[j*len(pool)+i] = b
		}
	}
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: writers + 1}, Timeout: 30 * time.Second}
	defer cl.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu   sync.Mutex
		res  = WriteResult{Errors: map[string]int64{}}
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var applied, cut []int64
			errs := map[string]int64{}
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				body := bodies[opIndex(k, len(pool))]
				t0 := time.Now()
				kind := post(ctx, cl, endpoint+"/v1/relationships/write", body)
				if ctx.Err() != nil {
					cut = append(cut, k) // cut off by the end of the run: not counted
					break
				}
				if kind != "" {
					errs[kind]++
					continue
				}
				mine = append(mine, time.Since(t0))
				applied = append(applied, k)
			}
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, mine...)
			res.Applied, res.Cut = append(res.Applied, applied...), append(res.Cut, cut...)
			for k, v := range errs {
				res.Errors[k] += v
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.OK = int64(len(lats))
	if len(lats) > 0 {
		slices.Sort(lats)
		res.P50, res.P99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return res, nil
}

// opIndex is where the k-th write of a pool of n is among the bodies
// (touches first, then deletes); opIndex(k, n) >= n means a delete of
// pool[k mod n].
func opIndex(k int64, n int) int64 {
	m := int64(n)
	return (k/m)%2*m + k%m
}

// post sends one write and returns "" when it was accepted, else the kind
// of failure.
func post(ctx context.Context, cl *http.Client, url string, body []byte) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "request"
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err != nil {
		return "transport"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("http_%d", resp.StatusCode)
	}
	return ""
}
