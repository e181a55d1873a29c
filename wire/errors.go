package wire

// Error is what a failed request answers, inside {"error": ...}. Code is one
// of the documented snake_case codes (see package api); Message says what
// went wrong and how to fix it; Details names the field and limits involved.
type Error struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Details   map[string]any `json:"details,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error Error `json:"error"`
}
