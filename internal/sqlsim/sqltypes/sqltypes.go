// Package sqltypes is the small set of SQL Server data types the simulator speaks: the
// column types of its result sets and the Go values that carry them. It is shared by the
// TDS encoder, the query evaluator and the engine so that a value means the same thing
// everywhere.
//
// Go representation of a value of each type (nil is SQL NULL for every type):
//
//	NVarChar         string
//	Int              int32
//	BigInt           int64
//	TinyInt          uint8
//	SmallInt         int16
//	Bit              bool
//	Numeric          Decimal (numeric(p,s); LSNs are numeric(25,0) and may exceed int64)
//	Float            float64
//	DateTime         time.Time (datetime: 1/300 s precision, no zone; the simulator uses the instance clock's zone)
//	DateTime2        time.Time (datetime2(7))
//	UniqueIdentifier UUID
//	VarBinary        []byte
package sqltypes

import (
	"fmt"
	"math/big"
	"strings"
)

// Type is a SQL Server data type of a result column.
type Type int

const (
	NVarChar Type = iota + 1
	Int
	BigInt
	TinyInt
	SmallInt
	Bit
	Numeric
	Float
	DateTime
	DateTime2
	UniqueIdentifier
	VarBinary
)

func (t Type) String() string {
	switch t {
	case NVarChar:
		return "nvarchar"
	case Int:
		return "int"
	case BigInt:
		return "bigint"
	case TinyInt:
		return "tinyint"
	case SmallInt:
		return "smallint"
	case Bit:
		return "bit"
	case Numeric:
		return "numeric"
	case Float:
		return "float"
	case DateTime:
		return "datetime"
	case DateTime2:
		return "datetime2"
	case UniqueIdentifier:
		return "uniqueidentifier"
	case VarBinary:
		return "varbinary"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Column describes one column of a result set.
type Column struct {
	Name string
	Type Type
	// Size is the declared length in characters for NVarChar (0 means nvarchar(max)
	// is not used: the encoder then declares 4000) and in bytes for VarBinary.
	Size int
	// Precision and Scale apply to Numeric (LSNs: 25, 0).
	Precision, Scale uint8
}

// Decimal is an exact numeric value: Unscaled * 10^-Scale.
type Decimal struct {
	Unscaled *big.Int
	Scale    uint8
}

// NewDecimalInt returns the numeric(p,0) value v.
func NewDecimalInt(v *big.Int) Decimal { return Decimal{Unscaled: new(big.Int).Set(v)} }

// ParseDecimal parses a decimal string such as "-12.50" or "34000000012300001".
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	if digits == "" {
		return Decimal{}, fmt.Errorf("sqltypes: %q is not a number", s)
	}
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return Decimal{}, fmt.Errorf("sqltypes: %q is not a number", s)
	}
	if neg {
		v.Neg(v)
	}
	return Decimal{Unscaled: v, Scale: uint8(len(frac))}, nil
}

// String formats the decimal in plain notation.
func (d Decimal) String() string {
	if d.Unscaled == nil {
		return "0"
	}
	s := d.Unscaled.String()
	if d.Scale == 0 {
		return s
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for len(s) <= int(d.Scale) {
		s = "0" + s
	}
	out := s[:len(s)-int(d.Scale)] + "." + s[len(s)-int(d.Scale):]
	if neg {
		out = "-" + out
	}
	return out
}

// UUID is a uniqueidentifier in its canonical (RFC 4122 textual) byte order.
type UUID [16]byte

func (u UUID) String() string {
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Error is a SQL Server message as the engine raises it: number, severity (Class; 10 and
// below is informational, 11 and above an error), state and text. Evaluators and the
// engine return *Error; the TDS layer turns it into an INFO or ERROR token.
type Error struct {
	Number int32
	Class  uint8
	State  uint8
	Text   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("Msg %d, Level %d, State %d: %s", e.Number, e.Class, e.State, e.Text)
}

// Errorf builds an *Error with state 1.
func Errorf(number int32, class uint8, format string, args ...any) *Error {
	return &Error{Number: number, Class: class, State: 1, Text: fmt.Sprintf(format, args...)}
}
