package server

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Validate checks the configuration and names every field that is wrong,
// by its flag.
func (c Config) Validate() error {
	var errs []error
	addr := func(flag, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want host:port, e.g. 127.0.0.1:8080 (%v)", flag, v, err))
		}
	}
	addr("--http-addr", c.HTTPAddr)
	addr("--raft-addr", c.RaftAddr)
	if c.GRPCAddr != "" {
		addr("--grpc-addr", c.GRPCAddr)
	}
	if c.AdvertiseAddr != "" {
		addr("--advertise-addr", c.AdvertiseAddr)
	}
	if _, err := ParseConnectTo(c.PeerConnectTo); err != nil {
		errs = append(errs, err)
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is empty; name the directory for the store, the raft log and the token file"))
	}
	if c.NodeID == "" {
		errs = append(errs, errors.New("--node-id is empty; give this node a stable, unique ID such as n1"))
	}
	if c.ClusterID == "" {
		errs = append(errs, errors.New("--cluster-id is empty; every node of a cluster must share one"))
	}
	if c.InsecureNoAuth && c.TokenFile != "" {
		errs = append(errs, errors.New("--insecure-no-auth and --token-file exclude each other; drop one"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together; give both"))
	}
	if c.Quantization < 0 || c.Quantization > time.Minute {
		errs = append(errs, fmt.Errorf("--quantization %v: want 0 (off) up to 1m", c.Quantization))
	}
	if c.BlockCacheMB < 0 {
		errs = append(errs, fmt.Errorf("--block-cache-mb %d: want 0 or more", c.BlockCacheMB))
	}
	if err := c.Decisions.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
