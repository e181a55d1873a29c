package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/storage"
)

// registerIndexMetrics reports the nested-group index (docs/adr/0010): its
// size and update cost from the store, how often the engine answered from it
// or had to walk; and how many answers a suspension denied
// (docs/suspension.md).
func registerIndexMetrics(reg *prometheus.Registry, store *storage.Store, eng *engine.Engine) error {
	stat := store.GroupIndexStats
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trellis_group_index_pairs", Help: "Nested-group index closure pairs (group, member set) at the newest revision."},
			func() float64 { return float64(stat().Pairs) }),
		counter("trellis_group_index_updates_total", "Writes that changed a subject-set edge and so updated the index.",
			func() float64 { return float64(stat().Updates) }),
		counter("trellis_group_index_pairs_written_total", "Index keys written or deleted by those updates.",
			func() float64 { return float64(stat().PairsWritten) }),
		counter("trellis_group_index_update_seconds_total", "Time writes spent updating the index.",
			func() float64 { return stat().UpdateTime.Seconds() }),
		counter("trellis_group_index_rebuilds_total", "Full rebuilds of the index (open of an older store, restore).",
			func() float64 { return float64(stat().Rebuilds) }),
		counter("trellis_group_index_answered_total", "Nested-group questions the engine answered from the index.",
			func() float64 { a, _ := eng.GroupIndexStats(); return float64(a) }),
		counter("trellis_group_index_fallbacks_total", "Nested-group questions the index could not answer exactly, so the engine walked.",
			func() float64 { _, f := eng.GroupIndexStats(); return float64(f) }),
		counter("trellis_suspended_denials_total", "Checks, lookups and sub-problems denied because a subject or subject set is suspended.",
			func() float64 { return float64(eng.SuspendedDenials()) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// registerAlertMetrics reports this node's alert deliveries (docs/alerts.md).
func registerAlertMetrics(reg *prometheus.Registry, a *alertRuntime) error {
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	for _, c := range []prometheus.Collector{
		counter("trellis_alert_deliveries_total", "Alert deliveries a webhook accepted.",
			func() float64 { return float64(a.stats.Delivered.Load()) }),
		counter("trellis_alert_retries_total", "Alert delivery attempts refused or failed, then tried again.",
			func() float64 { return float64(a.stats.Retried.Load()) }),
		counter("trellis_alert_dead_letters_total", "Alert deliveries whose attempts ran out (dead letters, GET /v1/alerts/failed).",
			func() float64 { return float64(a.stats.Failed.Load()) }),
		counter("trellis_alert_skipped_revisions_total", "Revisions trimmed from the change feed before their alerts were delivered (each run told to the rules as a gap event).",
			func() float64 { return float64(a.stats.Skipped.Load()) }),
		counter("trellis_alert_decisions_dropped_total", "Checks a decision rule selected that found the alert queue full and were not alerted.",
			func() float64 { return float64(a.watch.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trellis_alert_local_letters", Help: "Dead letters kept only in this node's memory (it did not lead when they failed)."},
			func() float64 { return float64(len(a.local.list())) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
