// Command trellis-hostile measures what hostile readers cost a legitimate
// one: it runs legitimate checks alone (the baseline), then again while
// thousands of checks with forged future consistency tokens and hundreds of
// watches resuming from a future token run from another reader's token,
// probing /healthz and an admin call all along. It talks only to the
// endpoint it is given (a node on this machine) and stops by itself.
//
//	trellis-hostile --endpoint http://127.0.0.1:8080 --reader-token R --hostile-token H --admin-token A
package main
