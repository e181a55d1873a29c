package verdict

import "errors"

// Err is the marker every verdict wraps: errors.Is(err, verdict.Err).
var Err = errors.New("verdict")

// New returns a sentinel error with text msg that is a verdict.
func New(msg string) error { return &sentinel{msg: msg} }

type sentinel struct{ msg string }

func (s *sentinel) Error() string        { return s.msg }
func (s *sentinel) Is(target error) bool { return target == Err }

// Is reports whether err is, or wraps, a verdict.
func Is(err error) bool { return errors.Is(err, Err) }
