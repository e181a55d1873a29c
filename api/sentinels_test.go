package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/storage"
)

// exportedErrs lists the exported package-level Err* variables declared in
// the non-test files of the package in dir.
func exportedErrs(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if strings.HasPrefix(n.Name, "Err") && n.IsExported() {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

// TestNoSentinelIsA500: every exported sentinel of the packages the API
// calls answers with a status of its own (a verdict 4xx, or 503/504 for a
// node that cannot answer), never 500 "internal". The sentinels are found by
// parsing the packages' source, so a new one fails this test until it is
// classified (made with verdict.New, or given a row in depErrors).
func TestNoSentinelIsA500(t *testing.T) {
	values := map[string]map[string]error{
		"../storage": {
			"ErrPreconditionFailed": storage.ErrPreconditionFailed, "ErrAlreadyExists": storage.ErrAlreadyExists,
			"ErrSnapshotExpired": storage.ErrSnapshotExpired, "ErrRevisionAhead": storage.ErrRevisionAhead,
			"ErrLimitExceeded": storage.ErrLimitExceeded, "ErrClosed": storage.ErrClosed, "ErrInvalidCursor": storage.ErrInvalidCursor,
			"ErrDuplicateUpdate": storage.ErrDuplicateUpdate, "ErrBatchTooLarge": storage.ErrBatchTooLarge,
			"ErrInvalidBatch": storage.ErrInvalidBatch, "ErrCorrupt": storage.ErrCorrupt, "ErrFormatVersion": storage.ErrFormatVersion,
			"ErrNotSuspended": storage.ErrNotSuspended,
		},
		"../consensus": {
			"ErrNotLeader": consensus.ErrNotLeader, "ErrLeadershipLost": consensus.ErrLeadershipLost, "ErrNoLeader": consensus.ErrNoLeader,
			"ErrClosed": consensus.ErrClosed, "ErrInvalidCommand": consensus.ErrInvalidCommand, "ErrUnknownCommand": consensus.ErrUnknownCommand,
			"ErrHalted": consensus.ErrHalted, "ErrNoSchema": consensus.ErrNoSchema, "ErrSchemaInvalid": consensus.ErrSchemaInvalid,
			"ErrSchemaViolation": consensus.ErrSchemaViolation, "ErrUnsafeSchemaChange": consensus.ErrUnsafeSchemaChange,
			"ErrIdempotencyKeyReused": consensus.ErrIdempotencyKeyReused,
			"ErrMemberConflict":       consensus.ErrMemberConflict, "ErrWouldLoseQuorum": consensus.ErrWouldLoseQuorum,
			"ErrMemberNotCaughtUp": consensus.ErrMemberNotCaughtUp, "ErrDiskFull": consensus.ErrDiskFull, "ErrStorageFailed": consensus.ErrStorageFailed,
			"ErrInvalidSuspension": consensus.ErrInvalidSuspension,
			"ErrInvalidAlerts":     consensus.ErrInvalidAlerts,
		},
		"../engine": {
			"ErrUnknownType": engine.ErrUnknownType, "ErrUnknownPermission": engine.ErrUnknownPermission,
			"ErrDepthExceeded": engine.ErrDepthExceeded, "ErrCycle": engine.ErrCycle, "ErrInvalidContext": engine.ErrInvalidContext,
			"ErrCaveatEvaluation": engine.ErrCaveatEvaluation, "ErrInvalidCursor": engine.ErrInvalidCursor,
		},
		"../schema": {
			"ErrUnknownType": schema.ErrUnknownType, "ErrUnknownRelation": schema.ErrUnknownRelation, "ErrNotRelation": schema.ErrNotRelation,
			"ErrUnknownPermission": schema.ErrUnknownPermission, "ErrSubjectNotAllowed": schema.ErrSubjectNotAllowed,
			"ErrCaveatNotAllowed": schema.ErrCaveatNotAllowed, "ErrExpirationNotAllowed": schema.ErrExpirationNotAllowed,
			"ErrUnknownCaveat": schema.ErrUnknownCaveat, "ErrUnknownCaveatParameter": schema.ErrUnknownCaveatParameter,
			"ErrInvalidContext": schema.ErrInvalidContext,
		},
		"../service": {
			"ErrInvalidJSON": service.ErrInvalidJSON, "ErrInvalidArgument": service.ErrInvalidArgument, "ErrInvalidToken": service.ErrInvalidToken, "ErrTokenFromFuture": service.ErrTokenFromFuture,
			"ErrInvalidCursor": service.ErrInvalidCursor, "ErrInvalidSchema": service.ErrInvalidSchema, "ErrSubjectNotAllowed": service.ErrSubjectNotAllowed,
			"ErrInvalidContext": service.ErrInvalidContext, "ErrTooManyUpdates": service.ErrTooManyUpdates, "ErrUnauthenticated": service.ErrUnauthenticated,
			"ErrForbidden": service.ErrForbidden, "ErrUnknownType": service.ErrUnknownType, "ErrUnknownRelation": service.ErrUnknownRelation,
			"ErrNoSchema": service.ErrNoSchema, "ErrNotFound": service.ErrNotFound, "ErrMethodNotAllowed": service.ErrMethodNotAllowed,
			"ErrAlreadyExists": service.ErrAlreadyExists, "ErrUnsafeSchemaChange": service.ErrUnsafeSchemaChange, "ErrIdempotencyReuse": service.ErrIdempotencyReuse,
			"ErrPreconditionFailed": service.ErrPreconditionFailed, "ErrWebhookFailed": service.ErrWebhookFailed, "ErrBodyTooLarge": service.ErrBodyTooLarge, "ErrSnapshotExpired": service.ErrSnapshotExpired,
			"ErrLimitExceeded": service.ErrLimitExceeded, "ErrDepthExceeded": service.ErrDepthExceeded, "ErrCaveatEvaluation": service.ErrCaveatEvaluation,
			"ErrOverloaded": service.ErrOverloaded, "ErrUnavailable": service.ErrUnavailable, "ErrNoLeader": service.ErrNoLeader,
			"ErrNotReady": service.ErrNotReady, "ErrDeadlineExceeded": service.ErrDeadlineExceeded, "ErrOutcomeUnknown": service.ErrOutcomeUnknown,
			"ErrDecisionLogDisabled": service.ErrDecisionLogDisabled, "ErrDecisionsMissed": service.ErrDecisionsMissed,
		},
	}
	for dir, vals := range values {
		for _, name := range exportedErrs(t, dir) {
			err, ok := vals[name]
			if !ok {
				t.Errorf("%s.%s is a new sentinel: add it to this test and classify it (verdict.New, or a row in depErrors)", filepath.Base(dir), name)
				continue
			}
			if status, body := httpError(err); status == http.StatusInternalServerError {
				t.Errorf("%s.%s maps to 500 %s; make it a verdict or give it a status in depErrors", filepath.Base(dir), name, body.Code)
			}
		}
	}
}
