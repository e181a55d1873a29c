package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/examples/internal/trellisnode"
	"github.com/trellis-authz/trellis/pep"
	"github.com/trellis-authz/trellis/wire"
)

// extra is what this test adds to the AI-governance example's data: dan,
// who may read claims for the fraud model only, may also run fraud_ft.
const extra = "\nmodel:fraud_ft#runner@user:dan\n"

// startGateway starts a Trellis node with the example's schema and data and
// the gateway in front of it; it returns the gateway's URL and the node's.
func startGateway(t *testing.T) (gateway, node string) {
	rels, err := os.ReadFile("../ai-governance/relationships.txt")
	if err != nil {
		t.Fatal(err)
	}
	node = trellisnode.Start(t, "../ai-governance/schema.zed", string(rels)+extra)
	return serve(t, node), node
}

// serve runs the gateway with a PEP client of the Trellis node at node.
func serve(t *testing.T, node string) string {
	srv := httptest.NewServer(newGateway(trellisnode.Client(t, node)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// predictAs sends a prediction request; headers are name, value pairs.
func predictAs(t *testing.T, gateway, model, dataset string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, gateway+"/models/"+model+"/predict?dataset="+dataset, strings.NewReader(`{"amount": 420}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestGateway(t *testing.T) {
	gw, _ := startGateway(t)
	for _, tc := range []struct {
		name, caller, purpose, model, dataset string
		status                                int
		want                                  string // in the body
	}{
		{"owner of the model, ml reader of the data", "user:ana", "fraud-model", "fraud_ft", "claims", 200, `"score"`},
		{"purpose-bound reader, declared purpose", "user:dan", "fraud-model", "fraud_ft", "claims", 200, `"score"`},
		{"purpose-bound reader, another purpose: the read is denied", "user:dan", "marketing", "fraud_ft", "claims", 403, pep.CodeDenied},
		{"blocked on the data: the model (trained on it) is closed to him", "user:ben", "fraud-model", "fraud_ft", "claims", 403, pep.CodeDenied},
		{"blocked on the base model: its fine-tune is closed too", "user:gus", "fraud-model", "fraud_ft", "claims", 403, pep.CodeDenied},
		{"may run (project engineer) but not read the data", "user:carl", "fraud-model", "fraud_ft", "claims", 403, pep.CodeDenied},
		{"another project's owner", "user:chad", "fraud-model", "fraud_ft", "claims", 403, pep.CodeDenied},
		{"break-glass runner without the ticket context", "user:omar", "fraud-model", "fraud_ft", "claims", 403, "incident"},
		{"a subject that is no subject", "ana", "fraud-model", "fraud_ft", "claims", 403, pep.CodeFailed},
		{"no purpose", "user:ana", "", "fraud_ft", "claims", 400, PurposeHeader},
		{"no caller", "", "fraud-model", "fraud_ft", "claims", 400, CallerHeader},
		{"no dataset", "user:ana", "fraud-model", "fraud_ft", "", 400, "dataset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := predictAs(t, gw, tc.model, tc.dataset, CallerHeader, tc.caller, PurposeHeader, tc.purpose)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want %d with %q", status, body, tc.status, tc.want)
			}
			switch status {
			case 200:
				var p Prediction
				if err := json.Unmarshal([]byte(body), &p); err != nil || p.Model != tc.model || p.Dataset != tc.dataset || p.Score < 0 || p.Score > 1 || p.DecisionID == "" {
					t.Fatalf("prediction %s (%v): want model, dataset, a score in [0, 1] and a decision id", body, err)
				}
			case 403:
				if h.Get(pep.DecisionIDHeader) == "" {
					t.Fatalf("a denial without the %s header", pep.DecisionIDHeader)
				}
			}
		})
	}
}

// TestGatewayRevokeWithToken: after a revoke, a request carrying the
// revoke's token is denied at once, however warm the PEP's cache is.
func TestGatewayRevokeWithToken(t *testing.T) {
	gw, node := startGateway(t)
	dan := []string{CallerHeader, "user:dan", PurposeHeader, "fraud-model"}
	for range 5 { // warm the cache
		if status, _, body := predictAs(t, gw, "fraud_ft", "claims", dan...); status != 200 {
			t.Fatalf("before the revoke: %d %s", status, body)
		}
	}
	tok := trellisnode.Write(t, node, wire.Update{Op: "delete", Relationship: "model:fraud_ft#runner@user:dan"})
	if status, _, body := predictAs(t, gw, "fraud_ft", "claims", append(dan, TokenHeader, tok)...); status != 403 || !strings.Contains(body, pep.CodeDenied) {
		t.Fatalf("with the revoke's token: %d %s, want 403 %s", status, body, pep.CodeDenied)
	}
}

// TestGatewayFailsClosed: with Trellis unreachable every request is denied.
func TestGatewayFailsClosed(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing listens there any more
	gw := serve(t, dead.URL)
	for range 3 {
		if status, _, body := predictAs(t, gw, "fraud_ft", "claims", CallerHeader, "user:ana", PurposeHeader, "fraud-model"); status != 403 || !strings.Contains(body, pep.CodeFailed) {
			t.Fatalf("Trellis unreachable: %d %s, want 403 %s", status, body, pep.CodeFailed)
		}
	}
}
