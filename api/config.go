package api

import (
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config is the REST server's configuration: the service limits (embedded,
// shared with every transport) and what is HTTP's own.
type Config struct {
	service.Config
	// MaxBodyBytes bounds a request body (413 above it). Import streams its
	// body and is bounded by MaxImportBytes instead.
	MaxBodyBytes int64
	// MaxImportBytes bounds an import body; 0 means no bound.
	MaxImportBytes int64
	// MaxInFlight bounds concurrent requests (429 above it); 0 means no bound.
	// Long-lived streams (routes with NoTimeout: watch, export, import, audit
	// export) do not count against it; MaxStreams bounds them.
	MaxInFlight int
	// MaxStreams bounds concurrent long-lived streams (429 above it), in a
	// pool of their own so streams cannot starve checks; 0 means no bound.
	MaxStreams int
	// RequestTimeout is every request's deadline (504 when it passes).
	RequestTimeout time.Duration
	// Auth says who may call what.
	Auth AuthConfig
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the API's metrics; nil means a new private registry
	// (served at /metrics either way).
	Registry *prometheus.Registry
}

// DefaultConfig returns a config with production limits. Auth is left empty:
// callers must choose tokens or explicitly insecure-no-auth.
func DefaultConfig() Config {
	return Config{
		Config:         service.DefaultConfig(),
		MaxBodyBytes:   4 << 20,
		MaxImportBytes: 0,
		MaxInFlight:    1024,
		MaxStreams:     256,
		RequestTimeout: 10 * time.Second,
	}
}

// Validate checks every field and names the first that is wrong.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("api config: MaxBodyBytes is %d; it must be at least 1024", c.MaxBodyBytes)
	case c.MaxImportBytes < 0:
		return fmt.Errorf("api config: MaxImportBytes is %d; it must be 0 (no bound) or positive", c.MaxImportBytes)
	case c.MaxInFlight < 0:
		return fmt.Errorf("api config: MaxInFlight is %d; it must be 0 (no bound) or positive", c.MaxInFlight)
	case c.MaxStreams < 0:
		return fmt.Errorf("api config: MaxStreams is %d; it must be 0 (no bound) or positive", c.MaxStreams)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("api config: RequestTimeout is %v; it must be positive", c.RequestTimeout)
	}
	if err := c.Config.Validate(); err != nil {
		return err
	}
	return c.Auth.Validate()
}
