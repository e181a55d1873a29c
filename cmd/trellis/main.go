// Command trellis is the Trellis binary: the server and the tools around it
// (schema checking and formatting today; serve, check, write, validate, audit
// and cluster commands are added by their packages' owners in root.go).
package main

import "os"

func main() {
	os.Exit(execute(newRootCommand(), os.Args[1:]))
}
