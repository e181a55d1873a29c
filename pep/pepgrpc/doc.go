// Package pepgrpc holds the gRPC server interceptors of the Trellis policy
// enforcement point: the same rule as pep.Middleware — every call (a unary
// call, or a stream when it opens) is mapped to a question and decided by a
// pep.Client; only an allow reaches the handler; anything else is answered
// codes.PermissionDenied whose message says why (pep.Denial), with the
// decision id in the header and trailer metadata "trellis-decision-id". It
// lives apart from package pep so that a service without gRPC does not link
// it.
package pepgrpc
