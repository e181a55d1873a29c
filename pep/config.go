package pep

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Config configures a Client. Start from DefaultConfig.
type Config struct {
	// URL is the base URL of a Trellis node ("http://127.0.0.1:8080").
	URL string
	// Token is the bearer token sent to Trellis (a reader token is enough).
	Token string
	// HTTPClient sends the requests; nil: one with its own transport. Its
	// Timeout must be 0 (the watch is a long-lived stream); Timeout below
	// bounds each decision.
	HTTPClient *http.Client

	// Timeout bounds each decision that asks Trellis; when it passes, the
	// decision is a denial with ErrTimeout.
	Timeout time.Duration

	// CacheSize is how many answers the cache keeps; 0 turns the cache off
	// (every decision asks Trellis).
	CacheSize int
	// MaxStaleness is how long a cached answer is served at most, even when
	// no change arrives to evict it.
	MaxStaleness time.Duration
	// SchemaInterval is how often the schema is read again: schema changes
	// are not in the watch stream, so a new schema reaches the cache within
	// this interval (sooner when the stream shows a revision it skipped).
	// When no schema read has succeeded for three intervals, the cache stops
	// answering.
	SchemaInterval time.Duration
	// WatchSilence is how long the watch stream may stay silent (no event,
	// no heartbeat) before it is taken for dead and reopened. Trellis sends a
	// heartbeat every 15 s on an idle stream.
	WatchSilence time.Duration
	// RetryMin and RetryMax bound the backoff between watch reconnects.
	RetryMin, RetryMax time.Duration

	// Registerer, when set, receives the client's Prometheus metrics.
	Registerer prometheus.Registerer
	// Propagator writes the trace context of a decision's context into the
	// request to Trellis; nil: W3C traceparent (propagation.TraceContext).
	Propagator propagation.TextMapPropagator
	// TracerProvider makes the span of each decision that asks Trellis; nil:
	// the global one (otel.GetTracerProvider).
	TracerProvider trace.TracerProvider
	// Log receives the watch's connects and drops; nil: slog.Default().
	Log *slog.Logger
}

// DefaultConfig returns the defaults for a node at url with a token.
func DefaultConfig(url, token string) Config {
	return Config{
		URL:            url,
		Token:          token,
		Timeout:        time.Second,
		CacheSize:      100_000,
		MaxStaleness:   10 * time.Second,
		SchemaInterval: time.Second,
		WatchSilence:   20 * time.Second,
		RetryMin:       50 * time.Millisecond,
		RetryMax:       2 * time.Second,
	}
}

// Validate reports every field out of bounds, naming the field and the limit.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("pep config: "+format, args...)) }
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("URL %q is not an http(s) URL with a host; pass the base URL of a Trellis node, e.g. http://127.0.0.1:8080", c.URL)
	}
	if c.HTTPClient != nil && c.HTTPClient.Timeout != 0 {
		bad("HTTPClient.Timeout is %v; it must be 0 (the watch is a stream): bound decisions with Timeout", c.HTTPClient.Timeout)
	}
	if c.Timeout <= 0 || c.Timeout > time.Minute {
		bad("Timeout is %v; want more than 0 and at most 1m", c.Timeout)
	}
	if c.CacheSize < 0 || c.CacheSize > 100_000_000 {
		bad("CacheSize is %d; want 0 (off) up to 100000000", c.CacheSize)
	}
	if c.CacheSize > 0 {
		if c.MaxStaleness <= 0 || c.MaxStaleness > time.Hour {
			bad("MaxStaleness is %v; want more than 0 and at most 1h", c.MaxStaleness)
		}
		if c.SchemaInterval < 10*time.Millisecond || c.SchemaInterval > time.Hour {
			bad("SchemaInterval is %v; want 10ms up to 1h", c.SchemaInterval)
		}
		if c.WatchSilence < 10*time.Millisecond {
			bad("WatchSilence is %v; want at least 10ms (Trellis heartbeats every 15s, so 20s is the usual value)", c.WatchSilence)
		}
		if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
			bad("RetryMin %v and RetryMax %v: want 0 < RetryMin <= RetryMax", c.RetryMin, c.RetryMax)
		}
	}
	return errors.Join(errs...)
}
