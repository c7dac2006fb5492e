package query

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// Two pseudo types live only inside the evaluator:
//
//   - tDynamic (0, the zero Type) marks an expression whose type is only known when it is
//     evaluated (a function the Env implements); its values carry their type at run time.
//   - tNull is the type of the NULL literal. SQL Server types it int, but it yields to every
//     other type (CASE … ELSE NULL END keeps the other branch's type), so it must not be a
//     real int while types are being combined.
const (
	tDynamic sqltypes.Type = 0
	tNull    sqltypes.Type = -1
)

// maxNVarChar is the longest nvarchar the evaluator declares; 0 (the encoder's "declare
// 4000") is used when a length cannot be known.
const maxNVarChar = 4000

func typeName(t sqltypes.Type) string {
	switch t {
	case tNull, tDynamic:
		return "int"
	}
	return t.String()
}

// precedence is SQL Server's data type precedence: when two types meet (comparison,
// arithmetic, CASE, COALESCE), the value of the lower one is converted to the higher one.
func precedence(t sqltypes.Type) int {
	switch t {
	case sqltypes.DateTime2:
		return 13
	case sqltypes.DateTime:
		return 12
	case sqltypes.Float:
		return 11
	case sqltypes.Numeric:
		return 10
	case sqltypes.BigInt:
		return 9
	case sqltypes.Int:
		return 8
	case sqltypes.SmallInt:
		return 7
	case sqltypes.TinyInt:
		return 6
	case sqltypes.Bit:
		return 5
	case sqltypes.UniqueIdentifier:
		return 4
	case sqltypes.NVarChar:
		return 3
	case sqltypes.VarBinary:
		return 2
	}
	return 0
}

// higher returns the type that wins when a and b meet.
func higher(a, b sqltypes.Type) sqltypes.Type {
	if precedence(b) > precedence(a) {
		return b
	}
	return a
}

func isInteger(t sqltypes.Type) bool {
	switch t {
	case sqltypes.Int, sqltypes.BigInt, sqltypes.SmallInt, sqltypes.TinyInt, sqltypes.Bit:
		return true
	}
	return false
}

func isNumber(t sqltypes.Type) bool {
	return isInteger(t) || t == sqltypes.Numeric || t == sqltypes.Float
}

func isDate(t sqltypes.Type) bool { return t == sqltypes.DateTime || t == sqltypes.DateTime2 }

// implicitOK reports whether SQL Server converts between a and b without an explicit CAST
// (otherwise it raises 206 "Operand type clash").
func implicitOK(a, b sqltypes.Type) bool {
	switch {
	case a == b, a <= 0, b <= 0, a == sqltypes.NVarChar, b == sqltypes.NVarChar:
		return true
	case isNumber(a) && isNumber(b), isDate(a) && isDate(b):
		return true
	case a == sqltypes.DateTime && isNumber(b), b == sqltypes.DateTime && isNumber(a):
		return true
	case a == sqltypes.VarBinary:
		return b != sqltypes.DateTime2 && b != sqltypes.Float
	case b == sqltypes.VarBinary:
		return a != sqltypes.DateTime2 && a != sqltypes.Float
	}
	return false
}

// typeOfValue names the type of a Go value in the sqltypes representation; it gives
// dynamically typed values a type when their producer did not.
func typeOfValue(v any) sqltypes.Type {
	switch v.(type) {
	case string:
		return sqltypes.NVarChar
	case int32:
		return sqltypes.Int
	case int64:
		return sqltypes.BigInt
	case int16:
		return sqltypes.SmallInt
	case uint8:
		return sqltypes.TinyInt
	case bool:
		return sqltypes.Bit
	case sqltypes.Decimal:
		return sqltypes.Numeric
	case float64:
		return sqltypes.Float
	case time.Time:
		return sqltypes.DateTime2
	case sqltypes.UUID:
		return sqltypes.UniqueIdentifier
	case []byte:
		return sqltypes.VarBinary
	}
	return tNull
}

// concrete returns the type a non-NULL value actually has: t when the Go value agrees with
// it, else the value's own type. Trusting the value keeps a producer that labels a value
// inconsistently (or not at all: Env functions may answer type 0) from breaking conversions.
func concrete(v any, t sqltypes.Type) sqltypes.Type {
	if v == nil {
		return t
	}
	vt := typeOfValue(v)
	if vt == t || vt == tNull || (isDate(vt) && isDate(t)) {
		return t
	}
	return vt
}

// precisionOf returns the numeric(p,s) an exact number of column type c converts to.
func precisionOf(c sqltypes.Column) (p, s uint8) {
	switch c.Type {
	case sqltypes.Bit:
		return 1, 0
	case sqltypes.TinyInt:
		return 3, 0
	case sqltypes.SmallInt:
		return 5, 0
	case sqltypes.Int:
		return 10, 0
	case sqltypes.BigInt:
		return 19, 0
	case sqltypes.Numeric:
		if c.Precision == 0 {
			return 38, c.Scale
		}
		return c.Precision, c.Scale
	}
	return 38, 0
}

// numericCol is numeric(p,s), with p capped at 38 the way SQL Server trims result types:
// the integer digits are kept and the scale gives way, but not below min(s, 6).
func numericCol(p, s int) sqltypes.Column {
	if p > 38 {
		intDigits := p - s
		s = max(38-intDigits, min(s, 6))
		p = 38
	}
	if s > p {
		s = p
	}
	return sqltypes.Column{Type: sqltypes.Numeric, Precision: uint8(p), Scale: uint8(s)}
}

// ColumnType maps a type as written (CAST target, DECLARE) to the simulator's column type.
// A character type without a length gets 30 characters, as in CAST/CONVERT; (max) gets
// Size 0. date has no type of its own in sqltypes: it is datetime2 (Convert zeroes the time).
func ColumnType(tn tsql.TypeName) (sqltypes.Column, error) {
	arg := func(i, def int) int {
		if i < len(tn.Args) {
			return tn.Args[i]
		}
		return def
	}
	switch strings.ToLower(tn.Name) {
	case "nvarchar", "varchar", "nchar", "char", "text", "ntext", "xml":
		size := arg(0, 30)
		if tn.Max {
			size = 0
		}
		return sqltypes.Column{Type: sqltypes.NVarChar, Size: size}, nil
	case "sysname":
		return sqltypes.Column{Type: sqltypes.NVarChar, Size: 128}, nil
	case "int", "integer":
		return sqltypes.Column{Type: sqltypes.Int}, nil
	case "bigint":
		return sqltypes.Column{Type: sqltypes.BigInt}, nil
	case "smallint":
		return sqltypes.Column{Type: sqltypes.SmallInt}, nil
	case "tinyint":
		return sqltypes.Column{Type: sqltypes.TinyInt}, nil
	case "bit":
		return sqltypes.Column{Type: sqltypes.Bit}, nil
	case "numeric", "decimal", "dec":
		p, s := arg(0, 18), arg(1, 0)
		if p < 1 || p > 38 {
			return sqltypes.Column{}, errf(1002, "Line 1: Specified column precision %d is invalid.", p)
		}
		if s < 0 || s > p {
			return sqltypes.Column{}, errf(1002, "Line 1: Specified scale %d is invalid.", s)
		}
		return sqltypes.Column{Type: sqltypes.Numeric, Precision: uint8(p), Scale: uint8(s)}, nil
	case "money":
		return sqltypes.Column{Type: sqltypes.Numeric, Precision: 19, Scale: 4}, nil
	case "smallmoney":
		return sqltypes.Column{Type: sqltypes.Numeric, Precision: 10, Scale: 4}, nil
	case "float", "real":
		return sqltypes.Column{Type: sqltypes.Float}, nil
	case "datetime", "smalldatetime":
		return sqltypes.Column{Type: sqltypes.DateTime}, nil
	case "datetime2", "date", "datetimeoffset":
		return sqltypes.Column{Type: sqltypes.DateTime2}, nil
	case "uniqueidentifier":
		return sqltypes.Column{Type: sqltypes.UniqueIdentifier}, nil
	case "varbinary", "binary", "image", "rowversion", "timestamp":
		size := arg(0, 30)
		if tn.Max {
			size = 0
		}
		return sqltypes.Column{Type: sqltypes.VarBinary, Size: size}, nil
	}
	return sqltypes.Column{}, errf(243, "Type %s is not a defined system type.", tn.Name)
}

// numberLiteral types a numeric constant the way SQL Server does: an integer that fits int
// is int, a larger one (an LSN) is numeric(p,0) — never bigint —, one with a decimal point
// is numeric(p,s) with exactly its digits, and one with an exponent is float.
func numberLiteral(text string) (any, sqltypes.Column, error) {
	if strings.ContainsAny(text, "eE") {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, sqltypes.Column{}, errSyntax(text)
		}
		return f, sqltypes.Column{Type: sqltypes.Float}, nil
	}
	if !strings.Contains(text, ".") {
		if n, err := strconv.ParseInt(text, 10, 32); err == nil {
			return int32(n), sqltypes.Column{Type: sqltypes.Int}, nil
		}
	}
	d, err := sqltypes.ParseDecimal(text)
	if err != nil {
		return nil, sqltypes.Column{}, errSyntax(text)
	}
	p := len(new(big.Int).Abs(d.Unscaled).String())
	p = max(p, int(d.Scale), 1)
	if p > 38 {
		return nil, sqltypes.Column{}, errf(1007, "The number '%s' is out of the range for numeric representation (maximum precision 38).", text)
	}
	return d, sqltypes.Column{Type: sqltypes.Numeric, Precision: uint8(p), Scale: d.Scale}, nil
}
