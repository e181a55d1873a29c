package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus series.
type metrics struct {
	rejected *prometheus.CounterVec
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, stats func() NodeStats) (*metrics, error) {
	m := &metrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trellis_http_rejected_total", Help: "Requests refused with 429 by admission, by reason (requests, streams, admin requests: a pool was full; principal in flight, principal rate: a principal's own bound).",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trellis_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trellis_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	cs := []prometheus.Collector{m.rejected, m.requests, m.latency}
	if stats != nil {
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
				if strings.EqualFold(stats().State, "leader") {
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

// NodeStats is what the metrics report about the replication layer.
type NodeStats struct {
	State        string // raft's state names: "Leader", "Follower", "Candidate", "Shutdown" (and "Halted")
	AppliedIndex uint64
	CommitIndex  uint64
	HasLeader    bool
}

// NodeStatsSource is what NodeStatsFunc needs: consensus.Node satisfies it.
type NodeStatsSource interface {
	State() string
	AppliedIndex() uint64
	CommitIndex() uint64
	Leader() (id, raftAddr string)
}

// NodeStatsFunc returns the stats function of New reading a consensus node.
func NodeStatsFunc(n NodeStatsSource) func() NodeStats {
	return func() NodeStats {
		id, _ := n.Leader()
		return NodeStats{State: n.State(), AppliedIndex: n.AppliedIndex(), CommitIndex: n.CommitIndex(), HasLeader: id != ""}
	}
}
