// Package verdict marks the errors that are an answer about a request (bad
// input, a failed precondition, a limit, a rule of the schema) rather than a
// failure of the node that was asked.
//
// Every package's sentinel for such an answer is made with New, so one test,
// Is, tells the two apart everywhere: the raft applier rejects a command
// whose error is a verdict (every replica rejects it the same way) and halts
// on anything else; a transport answers a verdict with a 4xx (or its gRPC
// equivalent) and anything else as a failure of the server. A new sentinel is
// classified by how it is made, not by a list someone must remember to extend.
package verdict
