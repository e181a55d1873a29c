package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/storage"
	"io/fs"
	"os"
	"path/filepath"
)

// auditKeyFile is the node's checkpoint signing key inside the data directory.
const auditKeyFile = "audit-signing.key"

const auditKeyPEMType = "TRELLIS AUDIT SIGNING KEY"

// auditOrigin is the origin line of the cluster's checkpoints.
func auditOrigin(clusterID string) string { return "trellis/" + clusterID + "/audit" }

// auditKeyName is the signer name in a node's checkpoints.
func auditKeyName(clusterID, nodeID string) string { return "trellis-" + clusterID + "-" + nodeID }

// loadOrCreateAuditKey reads the Ed25519 seed in path (PEM), creating it with
// mode 0600 when missing.
func loadOrCreateAuditKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		out := pem.EncodeToMemory(&pem.Block{Type: auditKeyPEMType, Bytes: seed})
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create audit signing key: %w", err)
		}
		if _, err := f.Write(out); err != nil {
			f.Close()
			return nil, fmt.Errorf("write audit signing key %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != auditKeyPEMType || len(blk.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit signing key %s: want a PEM block %q holding a %d-byte Ed25519 seed; move the file away to generate a new key", path, auditKeyPEMType, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(blk.Bytes), nil
}

// nodeAudit is a node's audit log, its hook for consensus and its signer.
type nodeAudit struct {
	log    *audit.Log
	hook   *consensus.AuditLog
	signer *audit.Signer
}

// openNodeAudit opens the audit log kept in store and the node's signing key
// in DATA-DIR/audit-signing.key.
func openNodeAudit(store *storage.Store, dataDir, clusterID, nodeID string) (*nodeAudit, error) {
	l, err := audit.OpenWithConfig(consensus.AuditStore(store), audit.Config{Origin: auditOrigin(clusterID)})
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	key, err := loadOrCreateAuditKey(filepath.Join(dataDir, auditKeyFile))
	if err != nil {
		return nil, err
	}
	signer, err := audit.NewSigner(auditKeyName(clusterID, nodeID), key)
	if err != nil {
		return nil, fmt.Errorf("--node-id / --cluster-id make the audit key name: %w", err)
	}
	return &nodeAudit{log: l, hook: consensus.NewAuditLog(l), signer: signer}, nil
}

// AuditPublicKey reads the signing key a node keeps in dataDir and formats
// its public half with the key name the node signs under, as `trellis audit
// pubkey` prints it: "<name> <base64 Ed25519 key>". The key must exist (the
// node creates it on its first start).
func AuditPublicKey(dataDir, clusterID, nodeID string) (string, error) {
	path := filepath.Join(dataDir, auditKeyFile)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s: %w (the node creates it on its first start)", path, err)
	}
	key, err := loadOrCreateAuditKey(path)
	if err != nil {
		return "", err
	}
	return api.AuditPublicKey(auditKeyName(clusterID, nodeID), key.Public().(ed25519.PublicKey)), nil
}
