package api

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// RegisterAudit adds the audit endpoints to s, serving a.
//
// Roles: the checkpoint and the proofs reveal only hashes and are open to
// readers; entries and the export name principals and reasons and need
// admin.
func RegisterAudit(s *Server, a *service.Audit) {
	h := auditHandlers{a: a}
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/entries", Summary: "Audit log entries, paged and filtered",
		Role: RoleAdmin, Response: wire.AuditEntriesResponse{},
		Query: []QueryParam{
			{"from", "first sequence number (default 0)"},
			{"limit", "entries per page (default 100, at most 1000)"},
			{"principal", "only entries by this principal"},
			{"kind", "only entries of this kind: write, delete, import, schema, decision_anchor, suspend, unsuspend"},
			{"since", "only entries at or after this time (RFC 3339)"},
			{"until", "only entries before this time (RFC 3339)"},
		},
		QueryExample: "from=0&limit=10&kind=schema&since=2026-01-01T00:00:00Z",
		Handler:      h.entries})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/checkpoint", Summary: "The latest signed audit checkpoint",
		Role: RoleReader, Response: wire.AuditCheckpointResponse{}, Handler: h.checkpoint})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/proof/inclusion", Summary: "RFC 6962 inclusion proof of an entry in a tree size",
		Role: RoleReader, Response: wire.AuditInclusionResponse{},
		Query:        []QueryParam{{"seq", "the entry's sequence number"}, {"size", "the tree size (default: the current size)"}},
		QueryExample: "seq=0&size=1",
		Handler:      h.inclusion})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/proof/consistency", Summary: "RFC 6962 consistency proof between two tree sizes",
		Role: RoleReader, Response: wire.AuditConsistencyResponse{},
		Query:        []QueryParam{{"from", "the older tree size"}, {"to", "the newer tree size (default: the current size)"}},
		QueryExample: "from=1&to=2",
		Handler:      h.consistency})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/audit/export", Summary: "The audit log as NDJSON, for trellis audit verify",
		Role: RoleAdmin, StreamOut: "application/x-ndjson", NoTimeout: true,
		Query:        []QueryParam{{"size", "export the first size entries (default: the current size)"}},
		QueryExample: "size=1",
		Handler:      h.export})
}

type auditHandlers struct{ a *service.Audit }

func (h auditHandlers) entries(c echo.Context) error {
	from, err := queryUint(c, "from", 0)
	if err != nil {
		return err
	}
	limit, err := queryUint(c, "limit", wire.DefaultAuditLimit)
	if err != nil {
		return err
	}
	f := audit.Filter{Principal: c.QueryParam("principal"), Kind: c.QueryParam("kind")}
	if f.Since, err = queryTime(c, "since"); err != nil {
		return err
	}
	if f.Until, err = queryTime(c, "until"); err != nil {
		return err
	}
	return answer(c)(h.a.Entries(from, limit, f))
}

func (h auditHandlers) checkpoint(c echo.Context) error { return answer(c)(h.a.Checkpoint()) }

func (h auditHandlers) inclusion(c echo.Context) error {
	if c.QueryParam("seq") == "" {
		return fail(service.ErrInvalidArgument, map[string]any{"param": "seq"}, "query parameter seq is required")
	}
	seq, err := queryUint(c, "seq", 0)
	if err != nil {
		return err
	}
	size, err := queryUint(c, "size", h.a.Size())
	if err != nil {
		return err
	}
	return answer(c)(h.a.Inclusion(seq, size))
}

func (h auditHandlers) consistency(c echo.Context) error {
	if c.QueryParam("from") == "" {
		return fail(service.ErrInvalidArgument, map[string]any{"param": "from"}, "query parameter from is required")
	}
	from, err := queryUint(c, "from", 0)
	if err != nil {
		return err
	}
	to, err := queryUint(c, "to", h.a.Size())
	if err != nil {
		return err
	}
	return answer(c)(h.a.Consistency(from, to))
}

func (h auditHandlers) export(c echo.Context) error {
	size, err := queryUint(c, "size", h.a.Size())
	if err != nil {
		return err
	}
	if err := h.a.CheckExportSize(size); err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.Header().Set(AuditSizeHeader, strconv.FormatUint(size, 10))
	w.WriteHeader(http.StatusOK)
	// A failure after the header is out can only cut the stream short; the
	// verifier then reports the missing entries.
	return h.a.Export(w, size)
}

func queryUint(c echo.Context, name string, def uint64) (uint64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fail(service.ErrInvalidArgument, map[string]any{"param": name},
			"query parameter %s=%q is not a non-negative integer", name, v)
	}
	return n, nil
}

func queryTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fail(service.ErrInvalidArgument, map[string]any{"param": name},
			"query parameter %s=%q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", name, v)
	}
	return t, nil
}

// AuditPublicKey formats a public key the way `trellis audit pubkey` prints
// it and `trellis audit verify --pubkey` reads it: "<name> <base64 key>".
func AuditPublicKey(name string, pub ed25519.PublicKey) string {
	return name + " " + base64.StdEncoding.EncodeToString(pub)
}
