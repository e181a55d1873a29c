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

// tlsStreamLayer is a raft.StreamLayer over TLS.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	config    *tls.Config
}

var _ raft.StreamLayer = (*tlsStreamLayer)(nil)

func (t *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: t.config}
	return d.DialContext(context.Background(), "tcp", string(address))
}

func (t *tlsStreamLayer) Addr() net.Addr {
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
	if cfg.TLS == nil {
		return raft.NewTCPTransportWithLogger(cfg.RaftAddr, adv, 3, 10*time.Second, logger)
	}
	ln, err := tls.Listen("tcp", cfg.RaftAddr, cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("listening on RaftAddr %q: %w", cfg.RaftAddr, err)
	}
	if adv == nil {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("RaftAddr %q binds every interface; set AdvertiseAddr to the address peers dial", cfg.RaftAddr)
		}
	}
	return raft.NewNetworkTransportWithLogger(&tlsStreamLayer{Listener: ln, advertise: adv, config: cfg.TLS}, 3, 10*time.Second, logger), nil
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
