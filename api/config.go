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
	// MaxAdminInFlight bounds concurrent admin-role requests, in a pool of
	// their own so data traffic cannot starve them; 0 means no bound.
	MaxAdminInFlight int
	// MaxInFlightPerPrincipal bounds one principal's concurrent requests
	// (429 above it), so one token holder cannot take the whole pool; 0
	// means no bound.
	MaxInFlightPerPrincipal int
	// RatePerPrincipal bounds one principal's requests per second (429 with
	// Retry-After above it), with bursts of BurstPerPrincipal; 0 means no
	// rate limit.
	RatePerPrincipal  float64
	BurstPerPrincipal int
	// PenaltyDelay holds the refusal of a request only a misbehaving caller
	// sends (over its principal's bounds, or a token from the future) this
	// long before it is answered, holding no slot, so a caller retrying in a
	// loop cannot spend the node's CPU on refusals; 0 answers at once.
	PenaltyDelay time.Duration
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
		// Admin calls are rare; their own small pool keeps them answering
		// under any data load.
		MaxAdminInFlight: 64,
		// A quarter of the pool: four principals can fill it, none alone.
		MaxInFlightPerPrincipal: 256,
		BurstPerPrincipal:       100,
		PenaltyDelay:            time.Second,
		RequestTimeout:          10 * time.Second,
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
	case c.MaxAdminInFlight < 0 || c.MaxInFlightPerPrincipal < 0:
		return fmt.Errorf("api config: MaxAdminInFlight (%d) and MaxInFlightPerPrincipal (%d) must be 0 (no bound) or positive", c.MaxAdminInFlight, c.MaxInFlightPerPrincipal)
	case c.RatePerPrincipal < 0 || c.BurstPerPrincipal < 0:
		return fmt.Errorf("api config: RatePerPrincipal (%v) and BurstPerPrincipal (%d) must be 0 (off) or positive", c.RatePerPrincipal, c.BurstPerPrincipal)
	case c.PenaltyDelay < 0 || c.PenaltyDelay > time.Minute:
		return fmt.Errorf("api config: PenaltyDelay is %v; it must be between 0 (none) and 1m", c.PenaltyDelay)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("api config: RequestTimeout is %v; it must be positive", c.RequestTimeout)
	}
	if err := c.Config.Validate(); err != nil {
		return err
	}
	return c.Auth.Validate()
}
