package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/spicedb"
)

// listenGRPC opens the SpiceDB gRPC listener (--grpc-addr) with the API's
// listener, so a taken port fails before any data is touched.
func (n *Node) listenGRPC() error {
	if n.cfg.GRPCAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen on --grpc-addr %s: %w", n.cfg.GRPCAddr, err)
	}
	n.grpcLn = ln
	n.onClose(func() error {
		if n.spice == nil {
			return ln.Close()
		}
		return nil
	})
	return nil
}

// openSpiceDB builds SpiceDB's API over the services: the HTTP gateway on
// the API's port, always, and gRPC on --grpc-addr when it is set, with the
// API's TLS certificate.
func (n *Node) openSpiceDB(tlsCfg *tls.Config) error {
	var opts []grpc.ServerOption
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	s, err := spicedb.New(spicedb.Config{
		Services: n.svc,
		Watch:    service.NewWatch(n.store, n.svc.Reads),
		Gate:     n.srv,
		Leader:   n.raft,
		Logger:   n.log.With("component", "spicedb"),
		Options:  opts,
	})
	if err != nil {
		return err
	}
	n.srv.MountGateway(s.Gateway(), spicedb.GatewayRoutes(), spicedb.IsGatewayBody)
	s.SetHTTP(n.srv.Handler())
	n.spice = s
	if n.grpcLn != nil {
		ln := n.grpcLn
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				n.log.Error("gRPC server stopped", "error", err)
			}
		}()
	}
	n.onClose(func() error { s.Stop(); return nil })
	return nil
}

// GRPCAddr is the address the SpiceDB gRPC API listens on ("" when off).
func (n *Node) GRPCAddr() string {
	if n.grpcLn == nil {
		return ""
	}
	return n.grpcLn.Addr().String()
}
