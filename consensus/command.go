package consensus

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/alerts"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/trellis-authz/trellis/tuple"
)

// CommandType is the first byte of every raft log entry this package writes.
// Values are stable on disk: never renumber, only add.
type CommandType uint8

// The command types.
const (
	TypeNoop        CommandType = 1  // barrier; changes nothing
	TypeWrite       CommandType = 2  // relationship updates with preconditions
	TypeDelete      CommandType = 3  // delete by filter
	TypeImport      CommandType = 4  // a chunk of relationships to touch
	TypeSchema      CommandType = 5  // a new schema text
	TypeMember      CommandType = 6  // a member's API address (cluster metadata)
	TypeAnchor      CommandType = 7  // a node's decision-chain head, anchored in the audit log
	TypeCluster     CommandType = 8  // the cluster's random id, chosen by its first leader
	TypeSuspend     CommandType = 9  // suspend a subject or lift its suspension (ADR 0011)
	TypeAlerts      CommandType = 10 // replace the alert rule set (ADR 0012)
	TypeAlertCursor CommandType = 11 // the alert delivery cursor (ADR 0012)
	TypeAlertLetter CommandType = 12 // add or remove an alert dead letter
	TypeAuditRoot   CommandType = 13 // the leader's audit root at a size, for every node to compare
)

func (t CommandType) String() string {
	switch t {
	case TypeNoop:
		return "noop"
	case TypeWrite:
		return "write"
	case TypeDelete:
		return "delete"
	case TypeImport:
		return "import"
	case TypeSchema:
		return "schema"
	case TypeMember:
		return "member"
	case TypeAnchor:
		return "decision_anchor" // the audit entry kind (audit.KindDecisionAnchor)
	case TypeCluster:
		return "cluster_id"
	case TypeSuspend:
		return "suspend" // "unsuspend" for an audit entry of a lift (SuspendCommand.Kind)
	case TypeAlerts:
		return "alerts"
	case TypeAlertCursor:
		return "alert_cursor"
	case TypeAlertLetter:
		return "alert_letter"
	case TypeAuditRoot:
		return "audit_root"
	}
	return fmt.Sprintf("command(%d)", uint8(t))
}

// Meta is what every command carries besides its body. Time is chosen by the
// leader (Node.Write sets it) and is the only clock the state machine sees.
type Meta struct {
	Principal      string    `json:"principal,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	RequestID      string    `json:"request_id,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"` // a UUID, or empty
	Time           time.Time `json:"time"`
}

// Command is one replicated request. The concrete types are WriteCommand,
// DeleteCommand, ImportCommand, SchemaCommand, NoopCommand, MemberCommand and
// AnchorCommand.
type Command interface {
	Type() CommandType
	// Header returns the command's Meta, for the node to stamp the time.
	Header() *Meta
}

// WriteCommand applies relationship updates, all or nothing, if every
// precondition holds.
type WriteCommand struct {
	Meta
	Updates       []tuple.Update
	Preconditions []tuple.Precondition
}

// DeleteCommand deletes every relationship matching Filter; if more than Limit
// (when > 0) match, it deletes nothing and fails with storage.ErrLimitExceeded.
type DeleteCommand struct {
	Meta
	Filter        tuple.Filter
	Limit         int
	Preconditions []tuple.Precondition
}

// ImportCommand touches a chunk of relationships (one raft entry per chunk).
type ImportCommand struct {
	Meta
	Relationships []tuple.Relationship
}

// SchemaCommand replaces the schema.
type SchemaCommand struct {
	Meta
	Text string
}

// NoopCommand changes nothing; applying it proves every earlier entry applied.
type NoopCommand struct{ Meta }

// MemberCommand records (or, with Remove, forgets) a member's API address, so
// that every node knows where to forward HTTP requests.
type MemberCommand struct {
	Meta
	ID       string
	RaftAddr string
	APIAddr  string
	Remove   bool
}

// AnchorCommand anchors the head of node Node's decision chain (audit.DecisionLog)
// in the replicated audit log: it appends one audit entry of kind
// "decision_anchor" with principal "node:<Node>", change_count Size and
// change_digest Head, and changes no relationships.
type AnchorCommand struct {
	Meta
	Node string
	Size uint64
	Head string // hex SHA-256 of record Size-1 (64 zeros when Size is 0)
}

func (*AnchorCommand) Type() CommandType { return TypeAnchor }
func (c *AnchorCommand) Header() *Meta   { return &c.Meta }

func (*WriteCommand) Type() CommandType  { return TypeWrite }
func (*DeleteCommand) Type() CommandType { return TypeDelete }
func (*ImportCommand) Type() CommandType { return TypeImport }
func (*SchemaCommand) Type() CommandType { return TypeSchema }
func (*NoopCommand) Type() CommandType   { return TypeNoop }
func (*MemberCommand) Type() CommandType { return TypeMember }

func (c *WriteCommand) Header() *Meta  { return &c.Meta }
func (c *DeleteCommand) Header() *Meta { return &c.Meta }
func (c *ImportCommand) Header() *Meta { return &c.Meta }
func (c *SchemaCommand) Header() *Meta { return &c.Meta }
func (c *NoopCommand) Header() *Meta   { return &c.Meta }
func (c *MemberCommand) Header() *Meta { return &c.Meta }

// Wire forms: structs only (encoding/json writes struct fields in declaration
// order and map keys sorted), relationships in their canonical string form.

type wireUpdate struct {
	Op  string `json:"op"`
	Rel string `json:"rel"`
}

type wirePrecondition struct {
	Op     string       `json:"op"`
	Filter tuple.Filter `json:"filter"`
}

type wireWrite struct {
	Meta          Meta               `json:"meta"`
	Updates       []wireUpdate       `json:"updates,omitempty"`
	Preconditions []wirePrecondition `json:"preconditions,omitempty"`
}

type wireDelete struct {
	Meta          Meta               `json:"meta"`
	Filter        tuple.Filter       `json:"filter"`
	Limit         int                `json:"limit,omitempty"`
	Preconditions []wirePrecondition `json:"preconditions,omitempty"`
}

type wireImport struct {
	Meta Meta     `json:"meta"`
	Rels []string `json:"rels"`
}

type wireSchema struct {
	Meta Meta   `json:"meta"`
	Text string `json:"text"`
}

type wireNoop struct {
	Meta Meta `json:"meta"`
}

type wireAnchor struct {
	Meta Meta   `json:"meta"`
	Node string `json:"node"`
	Size uint64 `json:"size"`
	Head string `json:"head"`
}

type wireMember struct {
	Meta     Meta   `json:"meta"`
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr,omitempty"`
	APIAddr  string `json:"api_addr,omitempty"`
	Remove   bool   `json:"remove,omitempty"`
}

// Validate checks a command before it is proposed: names, IDs and filters, the
// idempotency key's format. Schema rules are checked when it applies.
func Validate(c Command) error {
	m := c.Header()
	if m.IdempotencyKey != "" {
		if _, err := uuid.Parse(m.IdempotencyKey); err != nil {
			return fmt.Errorf("%w: idempotency_key %q is not a UUID (e.g. %s)", ErrInvalidCommand, m.IdempotencyKey, "6f1c2b1e-8d5a-4c1e-9f3a-2d4b5c6d7e8f")
		}
	}
	switch c := c.(type) {
	case *WriteCommand:
		if len(c.Updates) == 0 {
			return fmt.Errorf("%w: a write needs at least one update", ErrInvalidCommand)
		}
		if err := tuple.CheckUpdates(c.Updates); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
		}
		return validatePreconditions(c.Preconditions)
	case *DeleteCommand:
		if err := c.Filter.Validate(); err != nil {
			return fmt.Errorf("%w: filter: %w", ErrInvalidCommand, err)
		}
		if c.Limit < 0 {
			return fmt.Errorf("%w: limit %d is negative; use 0 for no limit", ErrInvalidCommand, c.Limit)
		}
		return validatePreconditions(c.Preconditions)
	case *ImportCommand:
		if err := tuple.CheckDistinct(c.Relationships); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
		}
	case *SchemaCommand:
		if c.Text == "" {
			return fmt.Errorf("%w: empty schema text", ErrInvalidCommand)
		}
	case *MemberCommand:
		if c.ID == "" {
			return fmt.Errorf("%w: member command without an id", ErrInvalidCommand)
		}
	case *AnchorCommand:
		return validateAnchor(c)
	case *ClusterCommand:
		if _, err := uuid.Parse(c.ID); err != nil {
			return fmt.Errorf("%w: cluster id %q is not a UUID: %w", ErrInvalidCommand, c.ID, err)
		}
	case *SuspendCommand:
		return validateSuspend(c)
	case *AlertsCommand:
		if err := alerts.Validate(c.Rules, nil); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
		}
	case *AlertCursorCommand:
	case *AlertLetterCommand:
		if (c.Add == nil) == (c.Remove == "") || c.Add != nil && c.Add.ID == "" {
			return fmt.Errorf("%w: an alert letter command adds a letter with an id or removes one by id", ErrInvalidCommand)
		}
	case *AuditRootCommand:
		return validateAuditRoot(c)
	case *NoopCommand:
	default:
		return fmt.Errorf("%w: unsupported command %T", ErrInvalidCommand, c)
	}
	return nil
}

// validateAnchor checks an anchor's node name and head hash.
func validateAnchor(c *AnchorCommand) error {
	if c.Node == "" || strings.ContainsAny(c.Node, " \n") || len(c.Node) > 256 {
		return fmt.Errorf("%w: decision anchor node %q must be 1..256 bytes without spaces", ErrInvalidCommand, c.Node)
	}
	h, err := hex.DecodeString(c.Head)
	if err != nil || len(h) != sha256.Size {
		return fmt.Errorf("%w: decision anchor head %q must be 64 hex digits (a SHA-256)", ErrInvalidCommand, c.Head)
	}
	if c.Size == 0 && c.Head != strings.Repeat("0", 2*sha256.Size) {
		return fmt.Errorf("%w: decision anchor of an empty chain must have a head of 64 zeros", ErrInvalidCommand)
	}
	if c.Size > math.MaxInt64 {
		return fmt.Errorf("%w: decision anchor size %d is too large", ErrInvalidCommand, c.Size)
	}
	return nil
}

func validatePreconditions(ps []tuple.Precondition) error {
	for i, p := range ps {
		if p.Op != tuple.MustMatch && p.Op != tuple.MustNotMatch {
			return fmt.Errorf("%w: preconditions[%d]: unknown op %v; use must_match or must_not_match", ErrInvalidCommand, i, p.Op)
		}
		if err := p.Filter.Validate(); err != nil {
			return fmt.Errorf("%w: preconditions[%d]: %w", ErrInvalidCommand, i, err)
		}
	}
	return nil
}

// Encode renders a command as a raft log entry: one type byte, then JSON.
// The encoding is deterministic: the same command always gives the same bytes.
func Encode(c Command) ([]byte, error) {
	var body any
	switch c := c.(type) {
	case *WriteCommand:
		w := wireWrite{Meta: c.Meta, Preconditions: wirePreconditions(c.Preconditions)}
		for _, u := range c.Updates {
			w.Updates = append(w.Updates, wireUpdate{Op: u.Op.String(), Rel: u.Relationship.String()})
		}
		body = w
	case *DeleteCommand:
		body = wireDelete{Meta: c.Meta, Filter: c.Filter, Limit: c.Limit, Preconditions: wirePreconditions(c.Preconditions)}
	case *ImportCommand:
		w := wireImport{Meta: c.Meta, Rels: make([]string, len(c.Relationships))}
		for i, r := range c.Relationships {
			w.Rels[i] = r.String()
		}
		body = w
	case *SchemaCommand:
		body = wireSchema{Meta: c.Meta, Text: c.Text}
	case *NoopCommand:
		body = wireNoop{Meta: c.Meta}
	case *AnchorCommand:
		body = wireAnchor{Meta: c.Meta, Node: c.Node, Size: c.Size, Head: c.Head}
	case *MemberCommand:
		body = wireMember{Meta: c.Meta, ID: c.ID, RaftAddr: c.RaftAddr, APIAddr: c.APIAddr, Remove: c.Remove}
	case *ClusterCommand:
		body = wireCluster{Meta: c.Meta, ID: c.ID}
	case *SuspendCommand:
		body = encodeSuspend(c)
	case *AlertsCommand:
		body = wireAlerts{Meta: c.Meta, Rules: c.Rules}
	case *AlertCursorCommand:
		body = wireAlertCursor{Meta: c.Meta, Revision: c.Revision}
	case *AlertLetterCommand:
		body = wireAlertLetter{Meta: c.Meta, Add: c.Add, Remove: c.Remove}
	case *AuditRootCommand:
		body = wireAuditRoot{Meta: c.Meta, Node: c.Node, Size: c.Size, Root: c.Root}
	default:
		return nil, fmt.Errorf("%w: unsupported command %T", ErrInvalidCommand, c)
	}
	js, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding %s: %w", ErrInvalidCommand, c.Type(), err)
	}
	return append([]byte{byte(c.Type())}, js...), nil
}

func wirePreconditions(ps []tuple.Precondition) []wirePrecondition {
	var out []wirePrecondition
	for _, p := range ps {
		out = append(out, wirePrecondition{Op: p.Op.String(), Filter: p.Filter})
	}
	return out
}

// decoders is the dispatch table for decoding: one entry per command type.
var decoders = map[CommandType]func([]byte) (Command, error){
	TypeNoop: func(b []byte) (Command, error) {
		var w wireNoop
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		return &NoopCommand{Meta: w.Meta}, nil
	},
	TypeWrite: func(b []byte) (Command, error) {
		var w wireWrite
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		c := &WriteCommand{Meta: w.Meta}
		for i, u := range w.Updates {
			op, err := tuple.ParseOp(u.Op)
			if err != nil {
				return nil, fmt.Errorf("updates[%d]: %w", i, err)
			}
			rel, err := tuple.Parse(u.Rel)
			if err != nil {
				return nil, fmt.Errorf("updates[%d]: %w", i, err)
			}
			c.Updates = append(c.Updates, tuple.Update{Op: op, Relationship: rel})
		}
		ps, err := parsePreconditions(w.Preconditions)
		c.Preconditions = ps
		return c, err
	},
	TypeDelete: func(b []byte) (Command, error) {
		var w wireDelete
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		ps, err := parsePreconditions(w.Preconditions)
		return &DeleteCommand{Meta: w.Meta, Filter: w.Filter, Limit: w.Limit, Preconditions: ps}, err
	},
	TypeImport: func(b []byte) (Command, error) {
		var w wireImport
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		c := &ImportCommand{Meta: w.Meta, Relationships: make([]tuple.Relationship, len(w.Rels))}
		for i, s := range w.Rels {
			r, err := tuple.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("rels[%d]: %w", i, err)
			}
			c.Relationships[i] = r
		}
		return c, nil
	},
	TypeSchema: func(b []byte) (Command, error) {
		var w wireSchema
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		return &SchemaCommand{Meta: w.Meta, Text: w.Text}, nil
	},
	TypeMember: func(b []byte) (Command, error) {
		var w wireMember
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		return &MemberCommand{Meta: w.Meta, ID: w.ID, RaftAddr: w.RaftAddr, APIAddr: w.APIAddr, Remove: w.Remove}, nil
	},
	TypeCluster: func(b []byte) (Command, error) {
		var w wireCluster
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		return &ClusterCommand{Meta: w.Meta, ID: w.ID}, nil
	},
	TypeSuspend:     decodeSuspend,
	TypeAlerts:      decodeAlerts,
	TypeAlertCursor: decodeAlertCursor,
	TypeAlertLetter: decodeAlertLetter,
	TypeAuditRoot:   decodeAuditRoot,
	TypeAnchor: func(b []byte) (Command, error) {
		var w wireAnchor
		if err := strictUnmarshal(b, &w); err != nil {
			return nil, err
		}
		return &AnchorCommand{Meta: w.Meta, Node: w.Node, Size: w.Size, Head: w.Head}, nil
	},
}

func parsePreconditions(ws []wirePrecondition) ([]tuple.Precondition, error) {
	var out []tuple.Precondition
	for i, w := range ws {
		op, err := tuple.ParsePreconditionOp(w.Op)
		if err != nil {
			return nil, fmt.Errorf("preconditions[%d]: %w", i, err)
		}
		out = append(out, tuple.Precondition{Op: op, Filter: w.Filter})
	}
	return out, nil
}

func strictUnmarshal(b []byte, v any) error {
	return json.Unmarshal(b, v)
}

// Decode parses a log entry written by Encode. An unknown type byte gives an
// error wrapping ErrUnknownCommand (fatal for the state machine); a known type
// with a malformed body gives ErrInvalidCommand (rejected deterministically).
func Decode(data []byte) (Command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty log entry", ErrUnknownCommand)
	}
	t := CommandType(data[0])
	dec, ok := decoders[t]
	if !ok {
		return nil, fmt.Errorf("%w %d (entry of %d bytes): this binary is older than the one that wrote the log; upgrade it", ErrUnknownCommand, data[0], len(data))
	}
	c, err := dec(data[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: decoding %s: %w", ErrInvalidCommand, t, err)
	}
	return c, nil
}

// requestHash identifies a request for idempotency: the encoded command with
// the leader's time and the request id cleared (a retry differs in those).
func requestHash(c Command) (string, error) {
	m := c.Header()
	saved := *m
	m.Time, m.RequestID = time.Time{}, ""
	b, err := Encode(c)
	*m = saved
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
