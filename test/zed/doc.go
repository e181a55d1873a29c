// Package zed is the end-to-end test of Trellis with SpiceDB's own CLI,
// zed (build tag slow): it installs zed from the Go module proxy (or uses
// $TRELLIS_ZED, or a cached build), starts a real node with SpiceDB's gRPC
// API, and runs zed's schema, relationship, permission, import and backup
// commands against it. It skips, saying why, only when zed cannot be
// installed.
package zed
