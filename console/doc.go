// Package console is Trellis's web console: plain HTML, CSS and JavaScript
// modules (no build step, no third-party code) embedded in the binary and
// served by every node at /console/ (api.Server mounts Handler there).
//
// The console is a one-page application with hash routing (#/schema,
// #/playground, #/relationships, #/audit, #/live, #/cluster). It talks only
// to the node's public REST API, with the bearer token the user enters once
// per browser tab (kept in sessionStorage), and asks GET /v1/whoami for the
// token's role so that a reader sees no write controls; the server enforces
// the roles regardless.
//
// Every response carries CSP, a strict Content-Security-Policy: only this
// origin's scripts, styles and connections, no inline script or style, no
// framing. Nothing is loaded from elsewhere, so the console works offline.
// The audit page verifies the log in the browser: it recomputes each entry's
// RFC 6962 leaf hash from the canonical encoding package audit specifies,
// the Merkle root at the checkpoint's size, and the checkpoint's Ed25519
// signature with a public key the user pins (WebCrypto, which browsers offer
// on https:// and on localhost only).
//
// The design, and what each page calls, is in docs/console.md; the browser
// tests (build tag "browser", chromedp against a real node) are in this
// package's browser_*_test.go.
package console
