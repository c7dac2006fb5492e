package tds

import (
	"errors"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// Message is an INFO (Class <= 10) or ERROR (Class >= 11) token's content.
type Message struct {
	Number int32
	State  uint8
	Class  uint8
	Text   string
	Server string // defaults to Options.ServerName when empty
	Proc   string
	Line   int32
}

// Error formats the message the way SQL Server tools print it.
func (m *Message) Error() string {
	return fmt.Sprintf("Msg %d, Level %d, State %d, Line %d: %s", m.Number, m.Class, m.State, m.Line, m.Text)
}

// isError reports whether the message travels as an ERROR token (severity 11 and up).
func (m *Message) isError() bool { return m.Class > 10 }

// FromError converts a *sqltypes.Error (or any error: then number 50000 class 16) to a Message.
// A *Message anywhere in err's chain is returned as it is.
func FromError(err error) Message {
	var m *Message
	if errors.As(err, &m) {
		return *m
	}
	var se *sqltypes.Error
	if errors.As(err, &se) {
		return Message{Number: se.Number, State: se.State, Class: se.Class, Text: se.Text}
	}
	if err == nil {
		return Message{Number: 50000, State: 1, Class: 16, Text: "unknown error"}
	}
	// 50000 is what RAISERROR uses for ad-hoc messages; class 16 is a user-correctable error.
	return Message{Number: 50000, State: 1, Class: 16, Text: err.Error()}
}
