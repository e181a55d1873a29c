package driver

import (
	"fmt"
	"time"
)

// Report is what a run measured. Encode it as JSON to compare runs.
type Report struct {
	Config    Config    `json:"config"`
	StartedAt time.Time `json:"started_at"`
	// Elapsed is the wall time of the run, in seconds.
	Elapsed float64 `json:"elapsed_seconds"`
	// Queries counts finished queries: answered or failed. A lookup is one
	// query however many pages it took.
	Queries int64 `json:"queries"`
	// Answered counts queries that got a well-formed answer.
	Answered int64 `json:"answered"`
	// Throughput is Answered per second of Elapsed.
	Throughput float64 `json:"throughput_qps"`
	// Latency is over answered queries, from sending the first request to
	// reading the last response body.
	Latency Latency `json:"latency"`
	// Errors counts failed queries by kind: "http_503", "http_500:internal",
	// "timeout", "transport", "decode", "bad_result".
	Errors     map[string]int64 `json:"errors"`
	ErrorCount int64            `json:"error_count"`
	// ErrorExamples lists the first few failed queries with the error.
	ErrorExamples []Mismatch `json:"error_examples,omitempty"`
	// Classes has the answers per query class.
	Classes map[string]*ClassReport `json:"classes"`
	// Mismatches counts answers that differ from the query file's expected
	// answer; MismatchExamples lists the first few.
	Mismatches       int64      `json:"mismatches"`
	MismatchExamples []Mismatch `json:"mismatch_examples,omitempty"`
	// Writes reports the write mix, when there was one.
	Writes *WriteReport `json:"writes,omitempty"`
}

// ClassReport counts the answers of one query class.
type ClassReport struct {
	Queries     int64 `json:"queries"`
	Allowed     int64 `json:"allowed"`
	Denied      int64 `json:"denied"`
	Conditional int64 `json:"conditional"`
	Errors      int64 `json:"errors"`
	Mismatches  int64 `json:"mismatches"`
	// AllowedShare is Allowed over answered queries of the class; for lookups
	// "allowed" means a non-empty answer.
	AllowedShare float64 `json:"allowed_share"`
	// ExpectedAllowedShare is the same share in the query file's expectations
	// for the queries that were answered.
	ExpectedAllowedShare float64 `json:"expected_allowed_share"`
	expectedAllowed      int64
}

// Mismatch is one answer that differs from the expected one.
type Mismatch struct {
	Class    string `json:"class"`
	Query    string `json:"query"`
	Expected string `json:"expected"`
	Got      string `json:"got"`
}

// WriteReport measures the write mix.
type WriteReport struct {
	TargetRate float64 `json:"target_rate"`
	// AchievedRate is OK writes per second of the run.
	AchievedRate float64 `json:"achieved_rate"`
	Attempted    int64   `json:"attempted"`
	OK           int64   `json:"ok"`
	// Skipped counts scheduled writes dropped because every writer was busy:
	// the server could not keep up with the rate.
	Skipped int64            `json:"skipped"`
	Errors  map[string]int64 `json:"errors"`
	Latency Latency          `json:"latency"`
}

// stats is one client's counters, merged into the Report at the end.
type stats struct {
	hist       histogram
	queries    int64
	answered   int64
	errors     map[string]int64
	classes    map[string]*ClassReport
	mismatches int64
	examples   []Mismatch
	errExample []Mismatch
}

func newStats() *stats {
	return &stats{errors: map[string]int64{}, classes: map[string]*ClassReport{}}
}

func (s *stats) class(name string) *ClassReport {
	c := s.classes[name]
	if c == nil {
		c = &ClassReport{}
		s.classes[name] = c
	}
	return c
}

func (r *Report) merge(s *stats, maxExamples int) {
	r.Queries += s.queries
	r.Answered += s.answered
	r.Mismatches += s.mismatches
	for k, v := range s.errors {
		r.Errors[k] += v
		r.ErrorCount += v
	}
	for name, c := range s.classes {
		rc := r.Classes[name]
		if rc == nil {
			rc = &ClassReport{}
			r.Classes[name] = rc
		}
		rc.Queries += c.Queries
		rc.Allowed += c.Allowed
		rc.Denied += c.Denied
		rc.Conditional += c.Conditional
		rc.Errors += c.Errors
		rc.Mismatches += c.Mismatches
		rc.expectedAllowed += c.expectedAllowed
	}
	for _, m := range s.errExample {
		if len(r.ErrorExamples) < maxExamples {
			r.ErrorExamples = append(r.ErrorExamples, m)
		}
	}
	for _, m := range s.examples {
		if len(r.MismatchExamples) < maxExamples {
			r.MismatchExamples = append(r.MismatchExamples, m)
		}
	}
}

func (r *Report) finish(h *histogram) {
	r.Latency = h.summary()
	if r.Elapsed > 0 {
		r.Throughput = float64(r.Answered) / r.Elapsed
	}
	for _, c := range r.Classes {
		if n := c.Allowed + c.Denied + c.Conditional; n > 0 {
			c.AllowedShare = float64(c.Allowed) / float64(n)
			c.ExpectedAllowedShare = float64(c.expectedAllowed) / float64(n)
		}
	}
}

// Check returns nil when the run answered at least one query, with no error
// and no answer differing from the expected one; otherwise an ErrRunCheck
// that says what went wrong, with the first mismatches.
func (r Report) Check() error {
	if r.Answered > 0 && r.ErrorCount == 0 && r.Mismatches == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d answered, %d errors %v, %d mismatches", r.Answered, r.ErrorCount, r.Errors, r.Mismatches)
	for i, m := range append(r.ErrorExamples, r.MismatchExamples...) {
		if i == 10 {
			break
		}
		msg += fmt.Sprintf("\n  %s: %s: expected %s, got %s", m.Class, m.Query, m.Expected, m.Got)
	}
	return fmt.Errorf("%w: %s", ErrRunCheck, msg)
}
