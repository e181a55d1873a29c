package consensus

import (
	"fmt"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/verdict"
)

// SuspendCommand suspends a subject (docs/suspension.md) or, with Remove,
// lifts its suspension. Its audit entry has kind "suspend" or "unsuspend"
// and covers the single change string SuspensionLine returns.
type SuspendCommand struct {
	Meta
	Subject tuple.SubjectRef
	Until   *time.Time // nil: until unsuspended; ignored with Remove
	Remove  bool
}

func (*SuspendCommand) Type() CommandType { return TypeSuspend }
func (c *SuspendCommand) Header() *Meta   { return &c.Meta }

// Kind is the command's audit entry kind: "suspend" or "unsuspend".
func (c *SuspendCommand) Kind() string {
	if c.Remove {
		return "unsuspend"
	}
	return "suspend"
}

// SuspensionLine is the change string the audit entry's digest covers:
// "suspend <subject>", "suspend <subject> until <RFC 3339>" or
// "unsuspend <subject>".
func (c *SuspendCommand) SuspensionLine() string {
	s := c.Kind() + " " + c.Subject.String()
	if !c.Remove && c.Until != nil {
		s += " until " + c.Until.UTC().Format(time.RFC3339Nano)
	}
	return s
}

type wireSuspend struct {
	Meta    Meta       `json:"meta"`
	Subject string     `json:"subject"`
	Until   *time.Time `json:"until,omitempty"`
	Remove  bool       `json:"remove,omitempty"`
}

// MaxSuspensionReason bounds a suspension's reason, in bytes.
const MaxSuspensionReason = 1024

// ErrInvalidSuspension: a suspend command the state machine refuses (its
// until is not after the leader's time); every replica refuses it alike.
var ErrInvalidSuspension = verdict.New("invalid suspension")

func validateSuspend(c *SuspendCommand) error {
	if err := tuple.ValidateSubject(c.Subject); err != nil {
		return fmt.Errorf("%w: suspension subject: %w", ErrInvalidCommand, err)
	}
	if c.Subject.IsWildcard() {
		return fmt.Errorf("%w: cannot suspend the wildcard %s; suspend subjects one by one", ErrInvalidCommand, c.Subject)
	}
	if !c.Remove && c.Reason == "" {
		return fmt.Errorf("%w: a suspension needs a reason", ErrInvalidCommand)
	}
	if len(c.Reason) > MaxSuspensionReason {
		return fmt.Errorf("%w: suspension reason is %d bytes; the limit is %d", ErrInvalidCommand, len(c.Reason), MaxSuspensionReason)
	}
	if c.Remove && c.Until != nil {
		return fmt.Errorf("%w: an unsuspend takes no until", ErrInvalidCommand)
	}
	return nil
}

func encodeSuspend(c *SuspendCommand) wireSuspend {
	return wireSuspend{Meta: c.Meta, Subject: c.Subject.String(), Until: c.Until, Remove: c.Remove}
}

func decodeSuspend(b []byte) (Command, error) {
	var w wireSuspend
	if err := strictUnmarshal(b, &w); err != nil {
		return nil, err
	}
	subj, err := tuple.ParseSubject(w.Subject)
	if err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	return &SuspendCommand{Meta: w.Meta, Subject: subj, Until: w.Until, Remove: w.Remove}, nil
}

// applySuspend writes or lifts a suspension with its audit entry, in one
// batch at index. An until not after the leader's time, or an unsuspend of a
// subject that is not suspended (storage.ErrNotSuspended), is rejected.
func (a *applier) applySuspend(index uint64, c Command) (WriteResult, error) {
	s := c.(*SuspendCommand)
	if err := validateSuspend(s); err != nil {
		return WriteResult{}, err
	}
	if !s.Remove && s.Until != nil && !s.Until.After(s.Time) {
		return WriteResult{}, fmt.Errorf("%w: until %s is not after the time of the request (%s); give a future time or none",
			ErrInvalidSuspension, s.Until.UTC().Format(time.RFC3339), s.Time.UTC().Format(time.RFC3339))
	}
	ch := &storage.SuspensionChange{Remove: s.Remove, Suspension: tuple.Suspension{
		Subject: s.Subject, Reason: s.Reason, Principal: s.Principal, Since: s.Time, Until: s.Until}}
	return a.commit(index, c, storage.Batch{Suspend: ch},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision, Changed: 1} }, "")
}
