package driver

import (
	"math/bits"
	"time"
)

// subBuckets per power of two: values keep 7 significant bits, so a recorded
// latency is within 1/128 (< 0.8%) of the true one, HDR-histogram style.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	numBuckets = (64-subBits)*subBuckets + subBuckets
)

// histogram counts durations in log-linear buckets of nanoseconds. Not safe
// for concurrent use: each client has its own and they are merged.
type histogram struct {
	counts [numBuckets]int64
	n      int64
	sum    int64
	max    int64
}

func bucketOf(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketMid returns the middle of bucket b's range.
func bucketMid(b int) int64 {
	if b < 2*subBuckets {
		return int64(b)
	}
	shift := b/subBuckets - 1
	low := int64(b%subBuckets+subBuckets) << shift
	return low + (int64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q in [0, 1].
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(b), h.max))
		}
	}
	return time.Duration(h.max)
}

// Latency summarises a histogram, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (h *histogram) summary() Latency {
	if h.n == 0 {
		return Latency{}
	}
	return Latency{
		Count: h.n,
		Mean:  ms(time.Duration(h.sum / h.n)),
		P50:   ms(h.quantile(0.50)),
		P95:   ms(h.quantile(0.95)),
		P99:   ms(h.quantile(0.99)),
		P999:  ms(h.quantile(0.999)),
		Max:   ms(time.Duration(h.max)),
	}
}
