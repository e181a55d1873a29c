package audit

import (
	"errors"
	"fmt"
)

// DescribeDecisionError names the first bad record of a decision log file:
// a *VerifyError's Seq is the record index there.
func DescribeDecisionError(file string, err error) error {
	var ve *VerifyError
	if !errors.As(err, &ve) || !ve.HasSeq {
		return fmt.Errorf("%s: %w", file, err)
	}
	where := fmt.Sprintf("record %d", ve.Seq)
	if ve.Line > 0 {
		where += fmt.Sprintf(" (line %d)", ve.Line)
	}
	return fmt.Errorf("%s: %s: %s: %w", file, where, ve.Msg, ve.Err)
}
