package tsql

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that every failure is one of the two error
// types the engine knows how to report, with a sane severity and line.
// Run: go test ./internal/sqlsim/tsql/ -run '^$' -fuzz FuzzParse -fuzztime 30s
func FuzzParse(f *testing.F) {
	for _, sql := range allSQL() {
		f.Add(sql)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		b, err := Parse(sql)
		if err == nil {
			if b == nil {
				t.Fatal("nil batch without an error")
			}
			return
		}
		if b != nil {
			t.Fatal("batch returned with an error")
		}
		lines := strings.Count(sql, "\n") + 1
		var se *SyntaxError
		var ue *UnsupportedError
		switch {
		case errors.As(err, &se):
			if se.Number <= 0 || se.Class != 15 || se.State != 1 || se.Text == "" {
				t.Fatalf("malformed syntax error %#v", se)
			}
			if se.Line < 1 || se.Line > lines {
				t.Fatalf("line %d outside the batch's %d lines", se.Line, lines)
			}
		case errors.As(err, &ue):
			if ue.Statement == "" || ue.Line < 1 || ue.Line > lines {
				t.Fatalf("malformed unsupported error %#v", ue)
			}
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
	})
}
