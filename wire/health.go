package wire

// HealthResponse answers /healthz and /readyz.
type HealthResponse struct {
	Status string `json:"status"` // "ok" or "not_ready"
	Reason string `json:"reason,omitempty"`
}
