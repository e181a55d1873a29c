package driver

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	base := Report{Throughput: 1000, Latency: Latency{P50: 2, P99: 10}, Mismatches: 0}
	next := Report{Throughput: 1500, Latency: Latency{P50: 1, P99: 10}, Mismatches: 3, Writes: &WriteReport{}}
	got := map[string]Delta{}
	for _, d := range Compare(base, next) {
		got[d.Name] = d
	}
	for name, want := range map[string]float64{"throughput_qps": 0.5, "p50_ms": -0.5, "p99_ms": 0, "mismatches": 0} {
		if d, ok := got[name]; !ok || d.Change != want {
			t.Errorf("%s: got %+v, want change %g", name, d, want)
		}
	}
	if got["mismatches"].Next != 3 {
		t.Errorf("mismatches: got next %g, want 3", got["mismatches"].Next)
	}
	if _, ok := got["write_rate"]; ok {
		t.Error("write_rate compared although the base run had no write mix")
	}
	table := FormatDeltas(Compare(base, next))
	if !strings.Contains(table, "+50.0%") || !strings.Contains(table, "-50.0%") {
		t.Errorf("table:\n%s\nwant +50.0%% and -50.0%%", table)
	}
}
