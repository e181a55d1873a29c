package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/trellis-authz/trellis/audit"
)

// mapStore stands in for the storage layer's committed extra key/values.
type mapStore map[string][]byte

func (m mapStore) Get(k []byte) ([]byte, bool, error) { v, ok := m[string(k)]; return v, ok, nil }

// Example shows how the FSM uses the log inside an apply, and how an auditor
// checks the result.
func Example() {
	store := mapStore{}
	log, err := audit.Open(store)
	if err != nil {
		panic(err)
	}

	// Inside FSM.Apply, in the storage batch's Finish hook:
	changes := []string{"touch doc:readme#viewer@user:alice"}
	kvs, seq, err := log.Append(audit.Entry{
		Revision:     7,
		Time:         time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), // from the command
		Kind:         audit.KindWrite,
		Principal:    "user:admin",
		Reason:       "onboarding",
		RequestID:    "req-1",
		ChangeCount:  len(changes),
		ChangeDigest: audit.DigestChanges(changes),
	})
	if err != nil {
		panic(err) // the FSM aborts the batch
	}
	for _, kv := range kvs { // written in the same transaction as the change
		store[string(kv.Key)] = kv.Value
	}
	log.Commit() // after the transaction committed (Abort if it failed)

	// Serving a signed checkpoint and an inclusion proof.
	signer, _ := audit.NewSigner("trellis-example", ed25519.NewKeyFromSeed(make([]byte, 32)))
	cp, _ := log.Checkpoint(signer)
	p, _ := log.InclusionProof(seq, cp.Size)
	leaf, _ := log.LeafHash(seq)
	fmt.Println("inclusion:", proof.VerifyInclusion(rfc6962.DefaultHasher, seq, cp.Size, leaf, p, cp.Root))

	// Offline: verify an export against the checkpoint and the public key.
	var export bytes.Buffer
	_ = log.Export(&export, log.Size())
	rep, err := audit.Verify(&export, cp, signer.Public())
	fmt.Println("verify:", rep.Size, rep.CheckpointVerified, rep.SignatureVerified, err)
	// Output:
	// inclusion: <nil>
	// verify: 1 true true <nil>
}

// ExampleParseCheckpoint parses a checkpoint's text form and checks it.
func ExampleParseCheckpoint() {
	store := mapStore{}
	log, _ := audit.Open(store)
	signer, _ := audit.NewSigner("trellis-example", ed25519.NewKeyFromSeed(make([]byte, 32)))
	cp, _ := log.Checkpoint(signer)

	parsed, err := audit.ParseCheckpoint(cp.Marshal())
	if err != nil {
		panic(err)
	}
	fmt.Print(string(parsed.Body()))
	fmt.Println(parsed.Verify(signer.Public()))
	// Output:
	// trellis/audit
	// 0
	// 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
	// revision 0
	// time 0001-01-01T00:00:00Z
	// <nil>
}
