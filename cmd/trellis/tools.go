//go:build tools

// This file pins the modules the packages of this repository use while they are
// being written, so that go.mod and go.sum stay stable. It is never built.
package main

import (
	_ "cel.dev/cel-go/cel"
	_ "cel.dev/cel-go/checker"
	_ "cel.dev/cel-go/ext"
	_ "github.com/anishathalye/porcupine"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/labstack/echo/v4"
	_ "github.com/labstack/echo/v4/middleware"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "github.com/transparency-dev/merkle"
	_ "github.com/transparency-dev/merkle/proof"
	_ "github.com/transparency-dev/merkle/rfc6962"
	_ "gopkg.in/yaml.v3"
)
