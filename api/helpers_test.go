package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-authz/trellis/service"
)

// testDeps are what the tests build a server from: the services' parts and
// the node stats.
type testDeps struct {
	Engine    service.Engine
	Revisions service.Revisions
	Snapshots service.Snapshots
	Writer    service.Writer
	Decisions service.DecisionRecorder
	Stats     func() NodeStats
}

// newTestServer builds the services over d and the REST server over them,
// as package server does for a real node.
func newTestServer(cfg Config, d testDeps) (*Server, error) {
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	svc, err := service.New(cfg.Config, service.Deps{Engine: d.Engine, Revisions: d.Revisions, Snapshots: d.Snapshots,
		Writer: d.Writer, Decisions: d.Decisions, Registry: cfg.Registry, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	return New(cfg, svc, d.Stats)
}
