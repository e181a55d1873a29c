package consensus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestChooseLogStore: a data directory keeps the kind of log it holds; a new
// one gets the configured kind (the WAL by default); two logs are refused.
func TestChooseLogStore(t *testing.T) {
	for _, tc := range []struct {
		name       string
		files      []string
		configured string
		want       string
		wantErr    string
	}{
		{"new, default", nil, "", LogStoreWAL, ""},
		{"new, bolt asked for", nil, LogStoreBolt, LogStoreBolt, ""},
		{"holds bolt", []string{boltFile}, LogStoreWAL, LogStoreBolt, ""},
		{"holds the WAL", []string{walDir + "/"}, LogStoreBolt, LogStoreWAL, ""},
		{"holds both", []string{boltFile, walDir + "/"}, "", "", "two raft logs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				var err error
				if strings.HasSuffix(f, "/") {
					err = os.Mkdir(p, 0o755)
				} else {
					err = os.WriteFile(p, nil, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := chooseLogStore(dir, tc.configured)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestLogStoresKeepEntries: both kinds keep entries and stable values across
// a close and reopen.
func TestLogStoresKeepEntries(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			s, err := openLogStore(dir, kind, 0, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			logs := []*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("a")}, {Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("b")}}
			if err := s.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = openLogStore(dir, kind, 0, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var l raft.Log
			if err := s.GetLog(2, &l); err != nil || string(l.Data) != "b" {
				t.Errorf("entry 2 after reopen: %+v, %v", l, err)
			}
			if last, err := s.LastIndex(); err != nil || last != 2 {
				t.Errorf("LastIndex after reopen: %d, %v; want 2", last, err)
			}
			if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
				t.Errorf("CurrentTerm after reopen: %d, %v; want 7", v, err)
			}
		})
	}
}
