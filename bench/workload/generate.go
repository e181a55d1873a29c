package workload

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// File names GenerateDir writes.
const (
	SchemaFile      = "schema.zed"
	NDJSONFile      = "relationships.ndjson"
	TextFile        = "relationships.txt"
	QueriesFile     = "queries.ndjson"
	WritesFile      = "writes.txt"
	SummaryFile     = "summary.json"
	writeUserPrefix = "w"
)

// Outputs are where Generate writes. A nil writer skips that output (the
// evaluation still runs, so the summary is complete).
type Outputs struct {
	Schema        io.Writer
	Relationships io.Writer
	Queries       io.Writer
	Writes        io.Writer
}

// Summary describes a generated workload.
type Summary struct {
	Config        Config           `json:"config"`
	Relationships int64            `json:"relationships"`
	Objects       map[string]int64 `json:"objects"`
	// TeamCycleEdges counts team#member edges that close a cycle (Cyclic only).
	TeamCycleEdges int   `json:"team_cycle_edges"`
	MaxTeamDepth   int   `json:"max_team_depth"`
	CaveatedGrants int64 `json:"caveated_grants"`
	ExpiredGrants  int64 `json:"expired_grants"`
	FutureGrants   int64 `json:"future_expiring_grants"`
	// The expected answers hold for checks made in [AnswersValidFrom, AnswersValidUntil).
	AnswersValidFrom  time.Time               `json:"answers_valid_from"`
	AnswersValidUntil time.Time               `json:"answers_valid_until"`
	Queries           map[string]ClassSummary `json:"queries"`
	Writes            int                     `json:"writes"`
}

// ClassSummary counts the expected answers of one query class.
type ClassSummary struct {
	Count        int     `json:"count"`
	Allowed      int     `json:"allowed"`
	Denied       int     `json:"denied"`
	Conditional  int     `json:"conditional"`
	AllowedShare float64 `json:"allowed_share"`
	TargetShare  float64 `json:"target_share"`
}

// WriteRelationship writes one relationship line in format: for FormatNDJSON
// {"relationship": "..."} (the line shape of POST /v1/relationships/import and
// GET /v1/relationships/export), for FormatText the relationship alone.
func WriteRelationship(w io.Writer, format, rel string) error {
	var err error
	switch format {
	case FormatNDJSON:
		var b []byte
		b, err = json.Marshal(struct {
			Relationship string `json:"relationship"`
		}{rel})
		if err == nil {
			b = append(b, '\n')
			_, err = w.Write(b)
		}
	case FormatText:
		_, err = io.WriteString(w, rel+"\n")
	default:
		err = fmt.Errorf("%w %q", ErrUnknownFormat, format)
	}
	return err
}

// share splits total into orgs parts and returns the part of org idx.
func share(total, orgs, idx int) int {
	return total*(idx+1)/orgs - total*idx/orgs
}

// Generate builds the workload described by cfg and writes it to out, one
// organization at a time. The same cfg always produces the same bytes.
func Generate(ctx context.Context, cfg Config, out Outputs) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	s := Summary{
		Config:            cfg,
		Objects:           map[string]int64{},
		Queries:           map[string]ClassSummary{},
		AnswersValidFrom:  cfg.ReferenceTime.UTC(),
		AnswersValidUntil: cfg.ReferenceTime.UTC().Truncate(time.Second).Add(cfg.FutureMargin.Truncate(time.Second)),
		Writes:            cfg.Writes,
	}
	if out.Schema != nil {
		if _, err := io.WriteString(out.Schema, SchemaText); err != nil {
			return s, fmt.Errorf("write schema: %w", err)
		}
	}
	qenc := func(q Query) error { return nil }
	if out.Queries != nil {
		enc := json.NewEncoder(out.Queries)
		enc.SetEscapeHTML(false)
		qenc = func(q Query) error { return enc.Encode(q) }
	}
	for i := range cfg.Orgs {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		o := buildOrg(cfg, i)
		if err := o.emit(out.Relationships, &s); err != nil {
			return s, err
		}
		for _, class := range Classes {
			n := share(cfg.QueriesPerClass, cfg.Orgs, i)
			before := int(float64(cfg.QueriesPerClass*i/cfg.Orgs) * cfg.AllowedShare)
			after := int(float64(cfg.QueriesPerClass*(i+1)/cfg.Orgs) * cfg.AllowedShare)
			cs := s.Queries[class]
			cs.TargetShare = cfg.AllowedShare
			for _, q := range o.queries(class, n, after-before) {
				cs.Count++
				switch q.Expect {
				case "allowed":
					cs.Allowed++
				case "conditional":
					cs.Conditional++
				default:
					cs.Denied++
				}
				if err := qenc(q); err != nil {
					return s, fmt.Errorf("write queries: %w", err)
				}
			}
			if cs.Count > 0 {
				cs.AllowedShare = float64(cs.Allowed) / float64(cs.Count)
			}
			s.Queries[class] = cs
		}
		if err := o.emitWrites(out.Writes, share(cfg.Writes, cfg.Orgs, i)); err != nil {
			return s, err
		}
	}
	return s, nil
}

// emit writes the organization's relationships and counts them.
func (o *org) emit(w io.Writer, s *Summary) error {
	for _, rec := range o.g.records {
		s.Relationships++
		if w == nil {
			continue
		}
		if err := WriteRelationship(w, o.cfg.Format, rec.relationship().String()); err != nil {
			return fmt.Errorf("write relationships: %w", err)
		}
	}
	s.Objects["organization"]++
	s.Objects["user"] += int64(len(o.users) + len(o.guests))
	s.Objects["service_account"] += int64(len(o.sas))
	s.Objects["team"] += int64(len(o.teams))
	s.Objects["project"] += int64(len(o.projects))
	s.Objects["dataset"] += int64(len(o.datasets))
	s.Objects["field"] += int64(len(o.fields))
	s.Objects["model"] += int64(len(o.models))
	s.Objects["deployment"] += int64(len(o.deployments))
	s.TeamCycleEdges += o.cycleEdges
	for _, l := range o.teamLevel {
		s.MaxTeamDepth = max(s.MaxTeamDepth, l+1)
	}
	s.CaveatedGrants += int64(o.caveated)
	s.ExpiredGrants += int64(o.expired)
	s.FutureGrants += int64(o.future)
	return nil
}

// emitWrites writes n relationships of the write pool: reader grants on the
// organization's datasets to users that no query mentions, so that writing or
// deleting them leaves every expected answer unchanged.
func (o *org) emitWrites(w io.Writer, n int) error {
	if w == nil {
		return nil
	}
	for k := range n {
		rel := fmt.Sprintf("%s#reader@user:o%d-%s%d", o.pick(o.datasets), o.idx, writeUserPrefix, k)
		if _, err := io.WriteString(w, rel+"\n"); err != nil {
			return fmt.Errorf("write write pool: %w", err)
		}
	}
	return nil
}

// relationship converts a record to the shared relationship type.
func (rec record) relationship() tuple.Relationship {
	parse := func(s string) (string, string) {
		for i := 0; i < len(s); i++ {
			if s[i] == ':' {
				return s[:i], s[i+1:]
			}
		}
		return s, ""
	}
	rt, rid := parse(rec.res)
	st, sid := parse(rec.e.subj)
	r := tuple.Relationship{
		Resource: tuple.ObjectRef{Type: rt, ID: rid},
		Relation: rec.rel,
		Subject:  tuple.SubjectRef{Type: st, ID: sid, Relation: rec.e.subjRel},
	}
	if rec.e.caveat {
		allowed := make([]any, len(rec.e.allowed))
		for i, a := range rec.e.allowed {
			allowed[i] = a
		}
		r.Caveat = &tuple.Caveat{Name: "purpose_is", Context: map[string]any{"allowed": allowed}}
	}
	if !rec.e.exp.IsZero() {
		t := rec.e.exp.UTC()
		r.Expiration = &t
	}
	return r
}

// RelationshipsFile returns the relationship file name for format.
func RelationshipsFile(format string) string {
	if format == FormatText {
		return TextFile
	}
	return NDJSONFile
}

// GenerateDir generates the workload into dir (created if missing): schema.zed,
// relationships.ndjson or relationships.txt, queries.ndjson, writes.txt and
// summary.json.
func GenerateDir(ctx context.Context, cfg Config, dir string) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("create output directory: %w", err)
	}
	var files []*os.File
	var bufs []*bufio.Writer
	open := func(name string) (*bufio.Writer, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		b := bufio.NewWriterSize(f, 1<<20)
		bufs = append(bufs, b)
		return b, nil
	}
	var out Outputs
	var err error
	closeAll := func() error {
		var errs []error
		for _, b := range bufs {
			errs = append(errs, b.Flush())
		}
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}
	for _, o := range []struct {
		w    *io.Writer
		name string
	}{{&out.Schema, SchemaFile}, {&out.Relationships, RelationshipsFile(cfg.Format)}, {&out.Queries, QueriesFile}, {&out.Writes, WritesFile}} {
		var b *bufio.Writer
		if b, err = open(o.name); err != nil {
			_ = closeAll()
			return Summary{}, fmt.Errorf("create output file: %w", err)
		}
		*o.w = b
	}
	s, err := Generate(ctx, cfg, out)
	if cerr := closeAll(); err == nil && cerr != nil {
		err = fmt.Errorf("finish output files: %w", cerr)
	}
	if err != nil {
		return s, err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return s, err
	}
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), append(b, '\n'), 0o644); err != nil {
		return s, fmt.Errorf("write summary: %w", err)
	}
	return s, nil
}
