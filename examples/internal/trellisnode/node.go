package trellisnode

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/pep"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnode"
	"github.com/trellis-authz/trellis/wire"
)

// Start opens a node with the schema file schemaFile and the relationships
// text rels (one per line, // comments allowed; "" for none), applies edits
// to its config, and returns its base URL once it is ready. The node is
// closed when the test ends.
func Start(t testing.TB, schemaFile, rels string, edits ...func(*server.Config)) string {
	t.Helper()
	cfg := testnode.Config(t, "")
	cfg.SchemaFile, cfg.InsecureNoAuth = schemaFile, true
	if rels != "" {
		cfg.RelationshipsFile = filepath.Join(t.TempDir(), "relationships.txt")
		if err := os.WriteFile(cfg.RelationshipsFile, []byte(rels), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	return testnode.Open(t, cfg).URL()
}

// Client returns a PEP client of the node at url (cache on, a timeout of
// 5 s, logs discarded), closed when the test ends.
func Client(t testing.TB, url string) *pep.Client {
	t.Helper()
	cfg := pep.DefaultConfig(url, "")
	cfg.Timeout = 5 * time.Second
	cfg.Log = slog.New(slog.DiscardHandler)
	c, err := pep.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Write applies updates to the node at url (POST /v1/relationships/write)
// and returns the write's token, written_at.
func Write(t testing.TB, url string, updates ...wire.Update) string {
	t.Helper()
	body, err := json.Marshal(wire.WriteRelationshipsRequest{Updates: updates})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/v1/relationships/write", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out wire.WriteResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil {
		t.Fatalf("write %v: %d %s", updates, resp.StatusCode, b)
	}
	return out.WrittenAt
}
