package driver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/trellis-authz/trellis/bench/workload"
)

// Sentinel errors of the driver.
var (
	// ErrInvalidConfig: a Config field is missing or out of range.
	ErrInvalidConfig = errors.New("invalid driver config")
	// ErrBadQueryFile: a line of the query file is not a query.
	ErrBadQueryFile = errors.New("bad query file")
	// ErrRunCheck: a run answered nothing, or saw errors or wrong answers.
	ErrRunCheck = errors.New("benchmark run failed its checks")
)

// Modes of a run.
const (
	ModeCheck = "check" // replay the query file
	ModeNoop  = "noop"  // GET NoopPath: the server's HTTP ceiling
)

// Transports of a run.
const (
	TransportHTTP = "http" // Trellis's REST API at Endpoint
	TransportGRPC = "grpc" // SpiceDB's gRPC API at GRPCEndpoint (grpc.go)
)

// MaxGRPCConns bounds Config.GRPCConns.
const MaxGRPCConns = 64

// MaxDuration bounds a run: the driver always stops by itself.
const MaxDuration = 24 * time.Hour

// Config describes one run.
type Config struct {
	// Endpoint is the node's base URL, e.g. http://127.0.0.1:8080.
	Endpoint string `json:"endpoint"`
	// Token is sent as "Authorization: Bearer TOKEN" when not empty (over
	// gRPC as the authorization metadata, SpiceDB's preshared key).
	Token string `json:"-"`
	// Transport is TransportHTTP (REST: POST /v1/check, /v1/lookup/resources,
	// /v1/relationships/write at Endpoint) or TransportGRPC (SpiceDB's
	// CheckPermission, LookupResources and WriteRelationships at
	// GRPCEndpoint, over authzed-go). "" means TransportHTTP.
	Transport string `json:"transport"`
	// GRPCEndpoint is the node's gRPC address (host:port, plaintext), e.g.
	// 127.0.0.1:50051.
	GRPCEndpoint string `json:"grpc_endpoint,omitempty"`
	// GRPCConns is how many gRPC connections the clients share, round
	// robin (HTTP/2 multiplexes the calls of one connection); 0 means 1.
	GRPCConns int `json:"grpc_conns,omitempty"`
	// Mode is ModeCheck or ModeNoop.
	Mode string `json:"mode"`
	// NoopPath is what ModeNoop requests with GET.
	NoopPath string `json:"noop_path,omitempty"`
	// Queries are replayed round robin by all clients (ModeCheck), in an
	// order shuffled with ShuffleSeed so that every stretch of the run mixes
	// classes and organizations; ShuffleSeed 0 keeps the file's order.
	Queries     []workload.Query `json:"-"`
	ShuffleSeed uint64           `json:"shuffle_seed"`
	// Clients is the number of concurrent keep-alive clients.
	Clients int `json:"clients"`
	// Duration bounds the run (required, at most MaxDuration).
	Duration time.Duration `json:"duration"`
	// MaxRequests stops the run after this many queries (0: no bound).
	MaxRequests int64 `json:"max_requests,omitempty"`
	// RequestTimeout bounds one HTTP request or RPC.
	RequestTimeout time.Duration `json:"request_timeout"`
	// Consistency, when set, is sent with every read: "minimize_latency" or
	// "fully_consistent".
	Consistency string `json:"consistency,omitempty"`
	// LookupLimit is the page size of lookups; the driver follows cursors.
	LookupLimit int `json:"lookup_limit"`

	// WriteRate is the write mix in writes per second (0: no writes). Each
	// write touches or deletes one relationship of WritePool, cycling: the
	// first pass touches every relationship, the second deletes them, ...
	WriteRate float64 `json:"write_rate,omitempty"`
	// WritePool holds the relationships of the write mix (workload writes.txt).
	WritePool []string `json:"-"`
	// WriteClients is the number of concurrent writers.
	WriteClients int `json:"write_clients,omitempty"`

	// MaxMismatchExamples bounds the mismatches listed in the report.
	MaxMismatchExamples int `json:"-"`
	// Logger receives progress; nil discards.
	Logger *slog.Logger `json:"-"`
}

// DefaultConfig returns a 10-second check run with 16 clients against a local
// node.
func DefaultConfig() Config {
	return Config{
		Endpoint:            "http://127.0.0.1:8080",
		Transport:           TransportHTTP,
		GRPCEndpoint:        "127.0.0.1:50051",
		GRPCConns:           1,
		Mode:                ModeCheck,
		NoopPath:            "/healthz",
		Clients:             16,
		Duration:            10 * time.Second,
		RequestTimeout:      10 * time.Second,
		LookupLimit:         1000,
		WriteClients:        4,
		MaxMismatchExamples: 20,
		ShuffleSeed:         1,
	}
}

// Validate checks the config and names the field at fault.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch c.Transport {
	case "", TransportHTTP:
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("Endpoint %q is not an http(s) URL such as http://127.0.0.1:8080", c.Endpoint)
		}
	case TransportGRPC:
		if host, port, err := net.SplitHostPort(c.GRPCEndpoint); err != nil || host == "" || port == "" {
			return bad("GRPCEndpoint %q is not a host:port such as 127.0.0.1:50051 (no scheme)", c.GRPCEndpoint)
		}
		if c.Mode == ModeNoop {
			return bad("Mode %q requests an HTTP path and has no gRPC form; use Transport %q for it", ModeNoop, TransportHTTP)
		}
		if c.GRPCConns < 0 || c.GRPCConns > MaxGRPCConns {
			return bad("GRPCConns is %d; it must be between 1 and %d (0 means 1)", c.GRPCConns, MaxGRPCConns)
		}
	default:
		return bad("Transport %q is unknown; use %q or %q", c.Transport, TransportHTTP, TransportGRPC)
	}
	switch c.Mode {
	case ModeCheck:
		if len(c.Queries) == 0 {
			return bad("Queries is empty; load a query file made by the workload generator (queries.ndjson)")
		}
	case ModeNoop:
		if c.NoopPath == "" || c.NoopPath[0] != '/' {
			return bad("NoopPath %q must start with '/', e.g. /healthz", c.NoopPath)
		}
	default:
		return bad("Mode %q is unknown; use %q or %q", c.Mode, ModeCheck, ModeNoop)
	}
	if c.Clients < 1 || c.Clients > 10000 {
		return bad("Clients is %d; it must be between 1 and 10000", c.Clients)
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		return bad("Duration is %s; it must be above 0 and at most %s", c.Duration, MaxDuration)
	}
	if c.MaxRequests < 0 {
		return bad("MaxRequests is %d; it must be 0 (no bound) or more", c.MaxRequests)
	}
	if c.RequestTimeout <= 0 {
		return bad("RequestTimeout is %s; it must be above 0", c.RequestTimeout)
	}
	switch c.Consistency {
	case "", "minimize_latency", "fully_consistent":
	default:
		return bad("Consistency %q is unknown; use minimize_latency or fully_consistent", c.Consistency)
	}
	if c.LookupLimit < 1 {
		return bad("LookupLimit is %d; it must be at least 1", c.LookupLimit)
	}
	if c.WriteRate < 0 || c.WriteRate > 100000 {
		return bad("WriteRate is %g; it must be between 0 and 100000 writes per second", c.WriteRate)
	}
	if c.WriteRate > 0 {
		if len(c.WritePool) == 0 {
			return bad("WriteRate is %g but WritePool is empty; load the workload's writes.txt", c.WriteRate)
		}
		if c.WriteClients < 1 || c.WriteClients > 1000 {
			return bad("WriteClients is %d; it must be between 1 and 1000", c.WriteClients)
		}
	}
	return nil
}
