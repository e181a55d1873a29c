package wire

// WhoAmIResponse answers GET /v1/whoami: the principal the bearer token
// belongs to and its role (reader, writer or admin). The web console asks it
// once to decide which controls to show; the server enforces the roles
// whatever a client shows.
type WhoAmIResponse struct {
	Principal string `json:"principal"`
	Role      string `json:"role"`
}
