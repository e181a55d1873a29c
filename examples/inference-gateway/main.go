package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/trellis-authz/trellis/pep"
)

// Request headers of the gateway.
const (
	// CallerHeader names the subject, e.g. "user:ana". It stands in for the
	// identity a real gateway takes from its authentication (mTLS, a
	// verified JWT), never from a header the client chooses.
	CallerHeader = "X-Caller"
	// PurposeHeader declares what the data is used for; the dataset's
	// purpose-bound grants (caveat purpose_is) are checked against it.
	PurposeHeader = "X-Purpose"
	// TokenHeader optionally carries a Trellis token (e.g. the written_at
	// of a grant or revoke the caller just made): the decisions then reflect
	// at least that revision, cached or not.
	TokenHeader = "X-Trellis-Token"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to serve on")
	url := flag.String("trellis", "http://127.0.0.1:8181", "base URL of a Trellis node")
	token := flag.String("token", os.Getenv("TRELLIS_TOKEN"), "Trellis token (a reader token is enough); default $TRELLIS_TOKEN")
	flag.Parse()
	c, err := pep.New(pep.DefaultConfig(*url, *token))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	log.Printf("serving on http://%s, deciding with %s", *addr, *url)
	log.Fatal(http.ListenAndServe(*addr, newGateway(c)))
}

// newGateway returns the gateway's handler: POST
// /models/{model}/predict?dataset=D, guarded by two pep middlewares.
func newGateway(c *pep.Client) http.Handler {
	// The outer middleware asks for "run" on the model, the inner one for
	// "read" on the dataset; a request reaches predict only when both allow.
	runModel := pep.Middleware(c, func(r *http.Request) (pep.Question, error) {
		return question(r, "model:"+r.PathValue("model"), "run")
	})
	readData := pep.Middleware(c, func(r *http.Request) (pep.Question, error) {
		return question(r, "dataset:"+r.URL.Query().Get("dataset"), "read")
	})
	mux := http.NewServeMux()
	mux.Handle("POST /models/{model}/predict", requireHeaders(withToken(runModel(readData(http.HandlerFunc(predict))))))
	return mux
}

// question is the question of one middleware: may the caller do permission
// on resource, for the declared purpose. An error (no caller) is a denial.
func question(r *http.Request, resource, permission string) (pep.Question, error) {
	caller := r.Header.Get(CallerHeader)
	if caller == "" {
		return pep.Question{}, errors.New("no caller")
	}
	return pep.Question{Resource: resource, Permission: permission, Subject: caller,
		Context: map[string]any{"purpose": r.Header.Get(PurposeHeader)}}, nil
}

// requireHeaders answers 400, before anything is decided, a request without
// a caller, a purpose or a dataset: they are the gateway's contract, and a
// client should learn what it forgot.
func requireHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, need := range []struct{ what, v string }{
			{"the " + CallerHeader + " header (e.g. user:ana)", r.Header.Get(CallerHeader)},
			{"the " + PurposeHeader + " header (e.g. fraud-model)", r.Header.Get(PurposeHeader)},
			{"the dataset query parameter (e.g. ?dataset=claims)", r.URL.Query().Get("dataset")},
		} {
			if strings.TrimSpace(need.v) == "" {
				http.Error(w, "missing "+need.what, http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withToken hands the caller's Trellis token, if any, to the PEP.
func withToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get(TokenHeader); tok != "" {
			r = r.WithContext(pep.WithAtLeastAsFresh(r.Context(), tok))
		}
		next.ServeHTTP(w, r)
	})
}

// Prediction is the answer of predict.
type Prediction struct {
	Model   string  `json:"model"`
	Dataset string  `json:"dataset"`
	Score   float64 `json:"score"`
	// DecisionID is the id of the dataset read's decision in Trellis's
	// decision log (the inner middleware's; each middleware has its own).
	DecisionID string `json:"decision_id"`
}

// predict is the model stand-in: a deterministic score of the input.
func predict(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	model, dataset := r.PathValue("model"), r.URL.Query().Get("dataset")
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s", model, dataset, body))
	d, _ := pep.DecisionFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Prediction{Model: model, Dataset: dataset, DecisionID: d.DecisionID,
		Score: float64(binary.BigEndian.Uint16(sum[:])) / 65535})
}
