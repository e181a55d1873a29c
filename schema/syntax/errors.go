package syntax

import (
	"fmt"
	"sort"
	"strings"
)

// Severity tells an error from a lint warning.
type Severity uint8

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// Error is a problem at a position in a schema file.
type Error struct {
	File     string
	Pos      Pos
	Msg      string
	Severity Severity
	// Source is the text of the offending line, quoted with a caret under Pos.Col
	// when the error is printed. Empty when unknown.
	Source string
}

// Error formats the problem as
//
//	file:line:col: error: message
//	    relation reader: usr
//	                     ^
func (e *Error) Error() string {
	var b strings.Builder
	kind := "error"
	if e.Severity == SeverityWarning {
		kind = "warning"
	}
	name := e.File
	if name == "" {
		name = "<schema>"
	}
	fmt.Fprintf(&b, "%s:%d:%d: %s: %s", name, e.Pos.Line, e.Pos.Col, kind, e.Msg)
	if e.Source != "" {
		b.WriteString("\n    ")
		b.WriteString(strings.ReplaceAll(e.Source, "\t", " "))
		b.WriteString("\n    ")
		col := e.Pos.Col
		if col < 1 {
			col = 1
		}
		b.WriteString(strings.Repeat(" ", col-1))
		b.WriteByte('^')
	}
	return b.String()
}

// ErrorList is a list of errors, sortable by position.
type ErrorList []*Error

func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	a, b := l[i], l[j]
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Pos.Offset != b.Pos.Offset {
		return a.Pos.Offset < b.Pos.Offset
	}
	return a.Msg < b.Msg
}

// Sort sorts the list by file and position.
func (l ErrorList) Sort() { sort.Stable(l) }

// Error prints every error, one after another.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Err returns the list as an error, or nil when it holds no errors of
// SeverityError (warnings alone are not an error).
func (l ErrorList) Err() error {
	for _, e := range l {
		if e.Severity == SeverityError {
			return l
		}
	}
	return nil
}

// WithSource fills in Source for every error from the file's text.
func (l ErrorList) WithSource(src string) {
	lines := strings.Split(src, "\n")
	for _, e := range l {
		if e.Source == "" && e.Pos.Line >= 1 && e.Pos.Line <= len(lines) {
			e.Source = strings.TrimRight(lines[e.Pos.Line-1], "\r")
		}
	}
}
