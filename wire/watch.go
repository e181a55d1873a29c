package wire

import "time"

// WatchEvent is the data of one "change" event of GET /v1/watch: the changes
// of one revision (only those whose resource type was asked for). The SSE id
// of the event is Token.
type WatchEvent struct {
	Revision uint64        `json:"revision"`
	Token    string        `json:"token"`
	Time     time.Time     `json:"time,omitzero"`
	Changes  []WatchChange `json:"changes"`
	// Suspension, when set, says a suspension changed at this revision
	// ("suspend user:eve", "unsuspend team:ml#member"): any answer may differ
	// from here on although no relationship changed (Changes is empty).
	Suspension string `json:"suspension,omitempty"`
}

// WatchChange is one relationship written (op "touch") or deleted (op
// "delete"), in canonical string form.
type WatchChange struct {
	Op           string `json:"op"`
	Relationship string `json:"relationship"`
}

// WatchError is the data of an "error" event, sent when a stream that has
// already started cannot go on (for example the change feed was trimmed past
// a slow consumer). Its code is one of the API error codes.
type WatchError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
