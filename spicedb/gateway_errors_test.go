package spicedb_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A body the gateway itself cannot decode (before Trellis sees it) gets a
// 400 that names the problem and says how to write the request, with
// Trellis's ErrorInfo.
func TestGatewayDecodeErrors(t *testing.T) {
	tn := startNode(t, govSchema)
	for _, c := range []struct{ body, want string }{
		{`{"resourse":{}}`, `unknown field \"resourse\"`},
		{`{"resource":`, "unexpected EOF"},
		{`{"permission": 7}`, "permission"},
	} {
		req, _ := http.NewRequest("POST", tn.url+"/v1/permissions/check", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+tn.reader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := string(b)
		if resp.StatusCode != 400 || !strings.Contains(got, c.want) || !strings.Contains(got, "not a valid SpiceDB request") ||
			!strings.Contains(got, "camelCase") || !strings.Contains(got, `"domain":"trellis"`) {
			t.Errorf("%s: %d %s; want 400 naming %s, how to write it, and Trellis's ErrorInfo", c.body, resp.StatusCode, got, c.want)
		}
	}
}
