package validation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/schema/syntax"
	"github.com/trellis-authz/trellis/tuple"
)

// Errors a run returns besides an ErrorList for problems in the file.
var (
	// ErrNoSchema: the file was parsed with Parse and names a schemaFile that
	// was never read; use ParseFile.
	ErrNoSchema = errors.New("policy file has no schema text")
)

// Options tunes a run.
type Options struct {
	// Now is the instant expirations are judged at; zero means time.Now.
	Now time.Time
	// Evaluator, when set, answers the queries instead of a temporary store
	// loaded with the file's relationships (which are then not used): the
	// CLI's --against passes a live server's client here.
	Evaluator Evaluator
	// Generate computes the validation block even where the file has none:
	// one entry per distinct resource#permission of the assertions. Update
	// uses it to fill an empty block.
	Generate bool
}

// Report is the outcome of a run.
type Report struct {
	File       string            `json:"file"`
	Passed     bool              `json:"passed"`
	Failures   int               `json:"failures"`
	Assertions []AssertionResult `json:"assertions"`
	Expected   []ExpectedResult  `json:"validation"`
}

// AssertionResult is the outcome of one assertion.
type AssertionResult struct {
	Line           int           `json:"line"`
	Kind           string        `json:"kind"` // assertTrue, assertFalse, assertCaveated
	Assertion      string        `json:"assertion"`
	Want           string        `json:"want"` // allowed, denied, conditional
	Got            string        `json:"got,omitempty"`
	MissingContext []string      `json:"missing_context,omitempty"`
	Error          string        `json:"error,omitempty"`
	Passed         bool          `json:"passed"`
	Trace          *engine.Trace `json:"trace,omitempty"` // on failure only
}

// ExpectedResult compares one key of the validation block with what the
// engine computes.
type ExpectedResult struct {
	Line int    `json:"line"` // 0 for an entry generated from the assertions
	Key  string `json:"key"`  // "document:plan#view"
	// Want is the block as written; Got what the engine computes, in the
	// same notation and in canonical order.
	Want []string `json:"want"`
	Got  []string `json:"got"`
	// Missing are written lines the engine does not produce (with their
	// lines), Unexpected computed lines the file does not have.
	Missing    []MissingLine `json:"missing,omitempty"`
	Unexpected []string      `json:"unexpected,omitempty"`
	Error      string        `json:"error,omitempty"`
	Passed     bool          `json:"passed"`
}

// MissingLine is one expected subject the engine did not produce.
type MissingLine struct {
	Line int    `json:"line"`
	Text string `json:"text"`
}

func want(k AssertionKind) engine.Result {
	switch k {
	case AssertTrue:
		return engine.Allowed
	case AssertCaveated:
		return engine.Conditional
	}
	return engine.Denied
}

// Compile compiles the file's schema. Errors are an ErrorList; an inline
// schema's positions are mapped to lines of the policy file.
func (f *File) Compile() (*schema.Schema, error) {
	if f.Schema == "" {
		return nil, fmt.Errorf("%s: %w (a schemaFile is read by ParseFile, not Parse)", f.Name, ErrNoSchema)
	}
	name := f.SchemaFile
	if name == "" {
		name = f.Name
	}
	s, errs := compile.CompileText(name, f.Schema)
	if errs.Err() == nil {
		return s, nil
	}
	var out ErrorList
	for _, e := range errs {
		if e.Severity == syntax.SeverityWarning { // warnings do not stop a run
			continue
		}
		line, msg := 0, e.Error()
		if f.SchemaFile == "" && f.SchemaLine > 0 {
			line = f.SchemaLine + e.Pos.Line - 1
			msg = fmt.Sprintf("schema: line %d of the schema, column %d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
		}
		out = append(out, &Error{File: f.Name, Line: line, Msg: "schema: " + trimPrefix(msg, "schema: ")})
	}
	return nil, out
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// checkNames reports assertions and validation keys that name types,
// permissions or subjects the schema does not have.
func (f *File) checkNames(s *schema.Schema) error {
	var errs ErrorList
	for _, a := range f.Assertions {
		if _, _, err := s.Permission(a.Resource.Type, a.Permission); err != nil {
			errs = append(errs, &Error{File: f.Name, Line: a.Line, Msg: fmt.Sprintf("%s %q: %v", a.Kind, a.Text, err)})
			continue
		}
		if _, err := s.Definition(a.Subject.Type); err != nil {
			errs = append(errs, &Error{File: f.Name, Line: a.Line, Msg: fmt.Sprintf("%s %q: subject: %v", a.Kind, a.Text, err)})
		}
	}
	for _, e := range f.Expected {
		if _, _, err := s.Permission(e.Resource.Type, e.Permission); err != nil {
			errs = append(errs, &Error{File: f.Name, Line: e.Line, Msg: fmt.Sprintf("validation key %s#%s: %v", e.Resource, e.Permission, err)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Run runs every assertion and validation entry of f. The error is an
// ErrorList for problems in the file (its schema does not compile, a
// relationship is not allowed, an assertion names an unknown permission), or
// another error when the run itself could not be done. Failed assertions are
// not errors: they are in the Report.
func Run(ctx context.Context, f *File, opts Options) (*Report, error) {
	s, err := f.Compile()
	if err != nil {
		return nil, err
	}
	if err := f.checkNames(s); err != nil {
		return nil, err
	}
	ev := opts.Evaluator
	if ev == nil {
		m, err := NewMemory(f.Name, s, f.Relationships, opts.Now)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		ev = m
	}
	rep := &Report{File: f.Name, Assertions: []AssertionResult{}, Expected: []ExpectedResult{}}
	for _, a := range f.Assertions {
		r, err := runAssertion(ctx, ev, f.Name, a)
		if err != nil {
			return nil, err
		}
		rep.Assertions = append(rep.Assertions, r)
		if !r.Passed {
			rep.Failures++
		}
	}
	expected := f.Expected
	if len(expected) == 0 && opts.Generate {
		expected = f.keysFromAssertions()
	}
	for _, e := range expected {
		r, err := runExpected(ctx, ev, f.Name, s, e)
		if err != nil {
			return nil, err
		}
		rep.Expected = append(rep.Expected, r)
		if !r.Passed {
			rep.Failures++
		}
	}
	rep.Passed = rep.Failures == 0
	return rep, nil
}

// keysFromAssertions is one empty validation entry per distinct
// resource#permission the assertions ask about, in assertion order.
func (f *File) keysFromAssertions() []ExpectedRelation {
	var out []ExpectedRelation
	seen := map[string]bool{}
	for _, a := range f.Assertions {
		k := a.Resource.String() + "#" + a.Permission
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, ExpectedRelation{Resource: a.Resource, Permission: a.Permission})
	}
	return out
}

func runAssertion(ctx context.Context, ev Evaluator, file string, a Assertion) (AssertionResult, error) {
	r := AssertionResult{Line: a.Line, Kind: a.Kind.String(), Assertion: a.Text, Want: want(a.Kind).String()}
	res, err := ev.Check(ctx, engine.CheckRequest{Resource: a.Resource, Permission: a.Permission, Subject: a.Subject, Context: a.Context, Explain: true})
	if err != nil {
		// A bad context value (say, a string where the caveat wants an
		// ipaddress), a failing caveat or a too deep check fails this
		// assertion; anything else (a store or server failure) the run.
		if errors.Is(err, engine.ErrInvalidContext) || errors.Is(err, engine.ErrCaveatEvaluation) || errors.Is(err, engine.ErrDepthExceeded) {
			r.Error = err.Error()
			return r, nil
		}
		return r, fmt.Errorf("%s:%d: %s %s: %w", file, a.Line, a.Kind, a.Text, err)
	}
	r.Got, r.MissingContext = res.Result.String(), res.MissingContext
	r.Passed = res.Result == want(a.Kind)
	if !r.Passed {
		r.Trace = res.Trace
	}
	return r, nil
}

// key formats a validation key.
func key(obj tuple.ObjectRef, perm string) string { return obj.String() + "#" + perm }
