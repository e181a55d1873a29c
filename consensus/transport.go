package consensus

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// streamLayer is a raft.StreamLayer over TLS, or over plain TCP with a
// custom dial function (Config.Dial).
type streamLayer struct {
	net.Listener
	advertise net.Addr
	config    *tls.Config // nil: plain TCP
	dial      func(address string, timeout time.Duration) (net.Conn, error)
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (t *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if t.dial == nil {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: t.config}
		return d.DialContext(context.Background(), "tcp", string(address))
	}
	conn, err := t.dial(string(address), timeout)
	if err != nil || t.config == nil {
		return conn, err
	}
	cfg := t.config
	if cfg.ServerName == "" { // as tls.Dialer does: verify the dialed host
		cfg = cfg.Clone()
		if host, _, err := net.SplitHostPort(string(address)); err == nil {
			cfg.ServerName = host
		}
	}
	tc := tls.Client(conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

func (t *streamLayer) Addr() net.Addr {
	if t.advertise != nil {
		return t.advertise
	}
	return t.Listener.Addr()
}

func newTransport(cfg Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	var adv net.Addr
	if cfg.AdvertiseAddr != "" {
		a, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("AdvertiseAddr %q: %w", cfg.AdvertiseAddr, err)
		}
		adv = a
	}
	// MaxRPCsInFlight 1 turns off raft's pipelined replication. Its pipeline
	// can deadlock when a follower answers an append with Success=false (a
	// log mismatch after a partition): the decoder exits, the sender parks on
	// a full channel, and from then on the leader sends that follower
	// heartbeats but no entries, and Shutdown hangs. TestJepsenRegisters hit
	// it within a few partitions (grafana/pyroscope#5518 describes the same);
	// raft's own docs measure little benefit from pipelining.
	tc := &raft.NetworkTransportConfig{MaxPool: 3, Timeout: 10 * time.Second, Logger: logger, MaxRPCsInFlight: 1}
	if cfg.TLS == nil && cfg.Dial == nil {
		return raft.NewTCPTransportWithConfig(cfg.RaftAddr, adv, tc)
	}
	var ln net.Listener
	var err error
	if cfg.TLS != nil {
		ln, err = tls.Listen("tcp", cfg.RaftAddr, cfg.TLS)
	} else {
		ln, err = net.Listen("tcp", cfg.RaftAddr)
	}
	if err != nil {
		return nil, fmt.Errorf("listening on RaftAddr %q: %w", cfg.RaftAddr, err)
	}
	if adv == nil {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("RaftAddr %q binds every interface; set AdvertiseAddr to the address peers dial", cfg.RaftAddr)
		}
	}
	tc.Stream = &streamLayer{Listener: ln, advertise: adv, config: cfg.TLS, dial: cfg.Dial}
	return raft.NewNetworkTransportWithConfig(tc), nil
}

// slogSink forwards hclog output to slog.
type slogSink struct{ l *slog.Logger }

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	var lvl slog.Level
	switch {
	case level <= hclog.Debug:
		lvl = slog.LevelDebug
	case level == hclog.Info:
		lvl = slog.LevelInfo
	case level == hclog.Warn:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelError
	}
	if !s.l.Enabled(context.Background(), lvl) {
		return
	}
	s.l.Log(context.Background(), lvl, msg, append([]any{"component", name}, args...)...)
}

// hclogFor adapts an slog.Logger for raft.
func hclogFor(l *slog.Logger) hclog.Logger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "raft", Output: io.Discard, Level: hclog.Off})
	il.RegisterSink(slogSink{l})
	return il
}
