package pep

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the client's Prometheus collectors, their label values
// resolved once so that the decision path does not allocate.
type metrics struct {
	allowed, denied, conditional, failed prometheus.Counter
	hits                                 prometheus.Counter
	missAbsent, missStale, missNotLive   prometheus.Counter
	missFresher, missOff                 prometheus.Counter
	evictWatch, evictSchema              prometheus.Counter
	evictRecover, evictCapacity          prometheus.Counter
	cachedLatency, remoteLatency         prometheus.Observer
	connected                            prometheus.Gauge
	collectors                           []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer, size func() float64) (*metrics, error) {
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "trellis_pep_decisions_total",
		Help: "Decisions by result: allowed, denied, conditional (a denial naming missing context) and error (a denial because Trellis could not be asked).",
	}, []string{"result"})
	hits := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "trellis_pep_cache_hits_total",
		Help: "Decisions answered from the local cache.",
	})
	misses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "trellis_pep_cache_misses_total",
		Help: "Decisions that asked Trellis, by reason: absent, stale (past the staleness bound or not yet confirmed after a reconnect), not_live (the watch is down), fresher_token (the caller asked for a revision the cache has not seen), off (cache disabled or the question cannot be cached).",
	}, []string{"reason"})
	evictions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "trellis_pep_cache_evictions_total",
		Help: "Cached answers dropped, by reason: watch (a change that may affect them), schema (a new schema), recover (a resumed watch could not replay), capacity.",
	}, []string{"reason"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "trellis_pep_decision_duration_seconds",
		Help:    "Time to decide, by source: cache or trellis.",
		Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"source"})
	connected := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "trellis_pep_watch_connected",
		Help: "1 while the watch stream is open and the cache may answer, else 0.",
	})
	entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "trellis_pep_cache_entries",
		Help: "Answers in the local cache.",
	}, size)
	m := &metrics{
		allowed: decisions.WithLabelValues("allowed"), denied: decisions.WithLabelValues("denied"),
		conditional: decisions.WithLabelValues("conditional"), failed: decisions.WithLabelValues("error"),
		hits:       hits,
		missAbsent: misses.WithLabelValues("absent"), missStale: misses.WithLabelValues("stale"),
		missNotLive: misses.WithLabelValues("not_live"), missFresher: misses.WithLabelValues("fresher_token"),
		missOff:    misses.WithLabelValues("off"),
		evictWatch: evictions.WithLabelValues("watch"), evictSchema: evictions.WithLabelValues("schema"),
		evictRecover: evictions.WithLabelValues("recover"), evictCapacity: evictions.WithLabelValues("capacity"),
		cachedLatency: latency.WithLabelValues("cache"), remoteLatency: latency.WithLabelValues("trellis"),
		connected:  connected,
		collectors: []prometheus.Collector{decisions, hits, misses, evictions, latency, connected, entries},
	}
	if reg != nil {
		var errs []error
		for _, c := range m.collectors {
			if err := reg.Register(c); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			m.unregister(reg)
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range m.collectors {
		reg.Unregister(c)
	}
}

func (m *metrics) result(d *Decision, err error) {
	switch {
	case err != nil:
		m.failed.Inc()
	case d.Allowed:
		m.allowed.Inc()
	case d.Conditional:
		m.conditional.Inc()
	default:
		m.denied.Inc()
	}
}
