package tsql

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// SQL Server's parse-time error numbers, each raised with severity 15 like the real server.
const (
	errIncorrectSyntax   = 102  // Incorrect syntax near '%s'.
	errIdentifierTooLong = 103  // The identifier that starts with '%s' is too long…
	errUnclosedQuote     = 105  // Unclosed quotation mark after the character string '%s'.
	errMissingEndComment = 113  // Missing end comment mark '*/'.
	errAssignAndSelect   = 141  // A SELECT statement that assigns a value to a variable…
	errKeywordSyntax     = 156  // Incorrect syntax near the keyword '%s'.
	errNestedTooDeeply   = 191  // Some part of your SQL statement is nested too deeply…
	errNotSetOption      = 195  // '%s' is not a recognized SET option.
	errEmptyName         = 1038 // An object or column name is missing or empty…
	errNotBoolean        = 4145 // An expression of non-boolean type specified in a context where a condition is expected…
)

// maxIdentifierLength is SQL Server's limit for identifiers, in UTF-16 code units.
const maxIdentifierLength = 128

// SyntaxError is SQL Server's parse error, with the number, severity (Class), state, line and
// message text the real server sends for the same batch, so the simulator can put it on the
// wire unchanged.
type SyntaxError struct {
	Number int32
	Class  uint8
	State  uint8
	Line   int
	Text   string
}

// Error renders the error the way SQL Server Management Studio shows it.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("Msg %d, Level %d, State %d, Line %d: %s", e.Number, e.Class, e.State, e.Line, e.Text)
}

// UnsupportedError reports valid T-SQL that the simulator does not model (INSERT, CREATE TABLE,
// cursors, …). It is deliberately not a SyntaxError: SQL Server would run such a batch, and a
// test must not be misled into thinking the batch itself is wrong.
type UnsupportedError struct {
	Statement string // what is not modelled, e.g. "INSERT" or "CREATE TABLE"
	Line      int
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("the simulator does not model %s (line %d)", e.Statement, e.Line)
}

func newSyntaxError(number int32, line int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Number: number, Class: 15, State: 1, Line: line, Text: fmt.Sprintf(format, args...)}
}

// QuoteName is T-SQL's QUOTENAME for identifiers: it brackets s and doubles every ']' so the
// result reads back as exactly s. (QUOTENAME returns NULL beyond 128 characters; callers that
// build names check the length themselves.)
func QuoteName(s string) string {
	return "[" + strings.ReplaceAll(s, "]", "]]") + "]"
}

// identifierTooLong reports whether s exceeds the identifier limit; SQL Server counts UTF-16
// code units, so a character outside the BMP counts twice.
func identifierTooLong(s string) bool {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // range yields valid runes only (bad bytes become U+FFFD)
	}
	return n > maxIdentifierLength
}

// tooLongError is error 103; like SQL Server it quotes the first 128 characters.
func tooLongError(name string, line int) *SyntaxError {
	prefix := []rune(name)
	if len(prefix) > maxIdentifierLength {
		prefix = prefix[:maxIdentifierLength]
	}
	return newSyntaxError(errIdentifierTooLong, line,
		"The identifier that starts with '%s' is too long. Maximum length is %d.", string(prefix), maxIdentifierLength)
}
