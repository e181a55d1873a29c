package service

import "github.com/prometheus/client_golang/prometheus"

// registerMetrics registers the services' metrics on reg (nil: none) and
// returns the function that counts a check's outcome.
func registerMetrics(reg *prometheus.Registry, eng Engine) (func(result string), error) {
	if reg == nil {
		return func(string) {}, nil
	}
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "trellis_check_results_total", Help: "Check answers by outcome (allowed, denied, conditional, error).",
	}, []string{"result"})
	cs := []prometheus.Collector{checks}
	if st, ok := eng.(CacheStater); ok {
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
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return func(result string) { checks.WithLabelValues(result).Inc() }, nil
}
