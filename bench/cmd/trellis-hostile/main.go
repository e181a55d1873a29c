package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	endpoint, reader, hostile, admin string
	checks, watches, clients         int
	duration                         time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.endpoint, "endpoint", "http://127.0.0.1:8080", "the node (loopback)")
	flag.StringVar(&o.reader, "reader-token", "", "the legitimate client's token")
	flag.StringVar(&o.hostile, "hostile-token", "", "the hostile reader's token")
	flag.StringVar(&o.admin, "admin-token", "", "an admin token, for the admin probe")
	flag.IntVar(&o.checks, "hostile-checks", 2000, "concurrent forged-future-token checks")
	flag.IntVar(&o.watches, "hostile-watches", 500, "concurrent future-token watches")
	flag.IntVar(&o.clients, "clients", 4, "legitimate clients")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each phase")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "trellis-hostile:", err)
		os.Exit(1)
	}
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0}, Timeout: 60 * time.Second}

func call(ctx context.Context, method, url, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, b, nil
}

// forge returns a token of the node's cluster naming a revision far ahead
// of it: the token format is public (docs), so any reader can build one.
func forge(real string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(real, "t1."))
	if err != nil {
		return "", err
	}
	_, n := binary.Uvarint(raw)
	tag := raw[n:]
	out := binary.AppendUvarint(nil, 1<<40)
	return "t1." + base64.RawURLEncoding.EncodeToString(append(out, tag...)), nil
}

var checkBody = []byte(`{"resource":"dataset:claims","permission":"read","subject":"user:ana"}`)

// legit runs the legitimate clients for d and returns their latencies.
func legit(o options, d time.Duration) (lat []time.Duration, errs int64) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range o.clients {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				start := time.Now()
				status, _, err := call(ctx, http.MethodPost, o.endpoint+"/v1/check", o.reader, checkBody)
				if ctx.Err() != nil {
					break
				}
				if err != nil || status != 200 {
					bad.Add(1)
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, bad.Load()
}

func quantile(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

func run(o options) error {
	status, b, err := call(context.Background(), http.MethodPost, o.endpoint+"/v1/check", o.reader, checkBody)
	if err != nil || status != 200 {
		return fmt.Errorf("a first check: %d %s %v", status, b, err)
	}
	var first struct {
		CheckedAt string `json:"checked_at"`
	}
	if err := json.Unmarshal(b, &first); err != nil {
		return err
	}
	future, err := forge(first.CheckedAt)
	if err != nil {
		return err
	}
	base, baseErrs := legit(o, o.duration)

	ctx, cancel := context.WithTimeout(context.Background(), o.duration+2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	codes := sync.Map{}
	count := func(what string, status int) {
		v, _ := codes.LoadOrStore(fmt.Sprintf("%s %d", what, status), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	hostileBody := []byte(`{"resource":"dataset:claims","permission":"read","subject":"user:ana","consistency":{"at_least_as_fresh":"` + future + `"}}`)
	for range o.checks {
		wg.Go(func() {
			for ctx.Err() == nil {
				status, _, err := call(ctx, http.MethodPost, o.endpoint+"/v1/check", o.hostile, hostileBody)
				if err == nil {
					count("hostile check", status)
				}
			}
		})
	}
	for range o.watches {
		wg.Go(func() {
			for ctx.Err() == nil {
				status, _, err := call(ctx, http.MethodGet, o.endpoint+"/v1/watch?since="+future, o.hostile, nil)
				if err == nil {
					count("hostile watch", status)
				}
			}
		})
	}
	var probes, healthOK, adminOK atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			probes.Add(1)
			if s, _, err := call(ctx, http.MethodGet, o.endpoint+"/healthz", "", nil); err == nil && s == 200 {
				healthOK.Add(1)
			}
			if s, _, err := call(ctx, http.MethodGet, o.endpoint+"/v1/audit/entries?limit=1", o.admin, nil); err == nil && s == 200 {
				adminOK.Add(1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	time.Sleep(time.Second) // let the attack ramp up
	under, underErrs := legit(o, o.duration)
	cancel()
	wg.Wait()

	p99b, p99u := quantile(base, 0.99), quantile(under, 0.99)
	fmt.Printf("baseline:     %d checks, p50 %v, p99 %v, %d errors\n", len(base), quantile(base, 0.5), p99b, baseErrs)
	fmt.Printf("under attack: %d checks, p50 %v, p99 %v, %d errors (p99 ratio %.2f)\n", len(under), quantile(under, 0.5), p99u, underErrs, float64(p99u)/float64(max(p99b, 1)))
	fmt.Printf("probes: /healthz %d/%d ok, admin GET /v1/audit/entries %d/%d ok\n", healthOK.Load(), probes.Load(), adminOK.Load(), probes.Load())
	var lines []string
	codes.Range(func(k, v any) bool {
		lines = append(lines, fmt.Sprintf("  %s: %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(lines)
	fmt.Println("hostile answers:\n" + strings.Join(lines, "\n"))
	return nil
}
