package driver

import (
	"fmt"
	"strings"
)

// Delta is one figure of two reports side by side.
type Delta struct {
	Name   string  `json:"name"`
	Base   float64 `json:"base"`
	Next   float64 `json:"next"`
	Change float64 `json:"change"` // (Next-Base)/Base; 0 when Base is 0
}

// Compare lines up the headline figures of two runs: throughput, latency
// quantiles, errors, mismatches and, when both had one, the write mix.
func Compare(base, next Report) []Delta {
	var out []Delta
	add := func(name string, b, n float64) {
		d := Delta{Name: name, Base: b, Next: n}
		if b != 0 {
			d.Change = (n - b) / b
		}
		out = append(out, d)
	}
	add("throughput_qps", base.Throughput, next.Throughput)
	add("p50_ms", base.Latency.P50, next.Latency.P50)
	add("p95_ms", base.Latency.P95, next.Latency.P95)
	add("p99_ms", base.Latency.P99, next.Latency.P99)
	add("max_ms", base.Latency.Max, next.Latency.Max)
	add("error_count", float64(base.ErrorCount), float64(next.ErrorCount))
	add("mismatches", float64(base.Mismatches), float64(next.Mismatches))
	if base.Writes != nil && next.Writes != nil {
		add("write_rate", base.Writes.AchievedRate, next.Writes.AchievedRate)
		add("write_p50_ms", base.Writes.Latency.P50, next.Writes.Latency.P50)
		add("write_p99_ms", base.Writes.Latency.P99, next.Writes.Latency.P99)
	}
	return out
}

// FormatDeltas renders deltas as an aligned text table.
func FormatDeltas(ds []Delta) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %14s %14s %9s\n", "figure", "base", "next", "change")
	for _, d := range ds {
		change := "-"
		if d.Base != 0 {
			change = fmt.Sprintf("%+.1f%%", 100*d.Change)
		}
		fmt.Fprintf(&b, "%-16s %14.3f %14.3f %9s\n", d.Name, d.Base, d.Next, change)
	}
	return b.String()
}
