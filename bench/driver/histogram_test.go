package driver

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsContinuousAndAccurate(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, 1<<62 + 1} {
		b := bucketOf(v)
		if b < prev {
			t.Errorf("bucketOf(%d) = %d, below the previous value's bucket %d", v, b, prev)
		}
		prev = b
		mid := bucketMid(b)
		if diff := float64(mid-v) / float64(max(v, 1)); diff > 1.0/128 || diff < -1.0/128 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d; got relative error %.4f, want < 1/128", v, mid, diff)
		}
	}
	for v := int64(0); v < 5000; v++ {
		if b := bucketOf(v); b < 0 || b >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, b)
		}
	}
}

func TestQuantilesMatchSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h, a, b histogram
	var samples []int64
	for i := range 20000 {
		v := int64(r.ExpFloat64() * float64(2*time.Millisecond))
		samples = append(samples, v)
		h.record(time.Duration(v))
		if i%2 == 0 {
			a.record(time.Duration(v))
		} else {
			b.record(time.Duration(v))
		}
	}
	a.merge(&b)
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		want := samples[int(q*float64(len(samples)))-1]
		for name, hh := range map[string]*histogram{"single": &h, "merged": &a} {
			got := int64(hh.quantile(q))
			if d := float64(got-want) / float64(want); d > 0.02 || d < -0.02 {
				t.Errorf("%s q%.2f: got %d, want %d ± 2%%", name, q, got, want)
			}
		}
	}
	if time.Duration(samples[len(samples)-1]) != time.Duration(a.max) {
		t.Errorf("max: got %d, want %d", a.max, samples[len(samples)-1])
	}
	if a.n != int64(len(samples)) {
		t.Errorf("count: got %d, want %d", a.n, len(samples))
	}
}
