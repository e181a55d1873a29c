package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus series.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	checks   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, deps Deps) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trellis_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trellis_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trellis_check_results_total", Help: "Check answers by outcome (allowed, denied, conditional, error).",
		}, []string{"result"}),
	}
	cs := []prometheus.Collector{m.requests, m.latency, m.checks}
	if st, ok := deps.Engine.(CacheStater); ok {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "trellis_check_cache_hit_ratio", Help: "Engine cache hits / (hits + misses) since start.",
		}, func() float64 {
			h, mi := st.CacheStats()
			if h+mi == 0 {
				return 0
			}
			return float64(h) / float64(h+mi)
		}),
			// Counters as well, so a rate over a window shows what the ratio
			// since start hides (the cache's behaviour under a write mix).
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "trellis_check_cache_hits_total", Help: "Engine cache hits (sub-problems answered from the cache).",
			}, func() float64 { h, _ := st.CacheStats(); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "trellis_check_cache_misses_total", Help: "Engine cache misses (sub-problems evaluated).",
			}, func() float64 { _, mi := st.CacheStats(); return float64(mi) }),
		)
	}
	if deps.Stats != nil {
		stats := deps.Stats
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "trellis_raft_applied_index", Help: "The newest raft log index this node has applied.",
			}, func() float64 { return float64(stats().AppliedIndex) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "trellis_raft_commit_index", Help: "The newest raft log index this node knows committed.",
			}, func() float64 { return float64(stats().CommitIndex) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "trellis_raft_is_leader", Help: "1 when this node is the raft leader.",
			}, func() float64 {
				if stats().State == "leader" {
					return 1
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "trellis_raft_has_leader", Help: "1 when this node knows a leader.",
			}, func() float64 {
				if stats().HasLeader {
					return 1
				}
				return 0
			}),
		)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) checkResult(result string) { m.checks.WithLabelValues(result).Inc() }
