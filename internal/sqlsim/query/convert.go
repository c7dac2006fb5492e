package query

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// Convert converts v of type from to the type written as to, with CAST semantics (a
// character type without a length is 30 characters long; date keeps only the date). It is
// what the engine uses for DECLARE @x numeric(25,0) = '123' and for variable assignment.
func Convert(v any, from sqltypes.Type, to tsql.TypeName) (any, sqltypes.Type, error) {
	col, err := ColumnType(to)
	if err != nil {
		return nil, 0, err
	}
	out, err := castValue(v, from, col, strings.EqualFold(to.Name, "date"), 0)
	return out, col.Type, err
}

// castValue is CAST/CONVERT: convertValue plus the date-only truncation sqltypes cannot
// express as a type of its own.
func castValue(v any, from sqltypes.Type, to sqltypes.Column, dateOnly bool, style int) (any, error) {
	out, err := convertValue(v, from, to, style)
	if err != nil || !dateOnly || out == nil {
		return out, err
	}
	t := out.(time.Time)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()), nil
}

// convertValue converts v (of type from) to the column type to. style is CONVERT's style
// (0 for CAST and implicit conversions). A Numeric target with Precision 0 means "exactly
// as the value is": implicit conversions for comparisons must not round or overflow.
func convertValue(v any, from sqltypes.Type, to sqltypes.Column, style int) (any, error) {
	if v == nil {
		return nil, nil
	}
	from = concrete(v, from)
	switch to.Type {
	case sqltypes.NVarChar:
		return toNVarChar(v, from, to, style)
	case sqltypes.Int, sqltypes.BigInt, sqltypes.SmallInt, sqltypes.TinyInt:
		return toInteger(v, from, to.Type)
	case sqltypes.Bit:
		return toBit(v, from)
	case sqltypes.Numeric:
		return toNumeric(v, from, to)
	case sqltypes.Float:
		return toFloat(v, from)
	case sqltypes.DateTime, sqltypes.DateTime2:
		return toDate(v, from, to.Type)
	case sqltypes.UniqueIdentifier:
		return toUUID(v, from)
	case sqltypes.VarBinary:
		return toVarBinary(v, from, to)
	}
	return v, nil
}

// implicitConvert converts for an operator or a CASE branch: like convertValue but a pair
// of types SQL Server never converts implicitly is a 206 type clash.
func implicitConvert(v any, from sqltypes.Type, to sqltypes.Column) (any, error) {
	from = concrete(v, from)
	if v == nil || from == to.Type {
		return v, nil
	}
	if !implicitOK(from, to.Type) {
		return nil, errTypeClash(from, to.Type)
	}
	return convertValue(v, from, to, 0)
}

func errConversionFailed(s string, from, to sqltypes.Type) error {
	return errf(245, "Conversion failed when converting the %s value '%s' to data type %s.", typeName(from), s, typeName(to))
}

// ---- integers ----

func intRange(t sqltypes.Type) (lo, hi int64) {
	switch t {
	case sqltypes.Int:
		return math.MinInt32, math.MaxInt32
	case sqltypes.SmallInt:
		return math.MinInt16, math.MaxInt16
	case sqltypes.TinyInt:
		return 0, math.MaxUint8
	case sqltypes.Bit:
		return 0, 1
	}
	return math.MinInt64, math.MaxInt64
}

// intValue reads any integer-family Go value (bit included) as int64.
func intValue(v any) int64 {
	switch n := v.(type) {
	case int32:
		return int64(n)
	case int64:
		return n
	case int16:
		return int64(n)
	case uint8:
		return int64(n)
	case bool:
		if n {
			return 1
		}
	}
	return 0
}

// intOf builds the Go value of integer type t (range already checked).
func intOf(n int64, t sqltypes.Type) any {
	switch t {
	case sqltypes.Int:
		return int32(n)
	case sqltypes.SmallInt:
		return int16(n)
	case sqltypes.TinyInt:
		return uint8(n)
	case sqltypes.Bit:
		return n != 0
	}
	return n
}

// checkedInt returns n as type t, or 8115 when it does not fit.
func checkedInt(n *big.Int, t sqltypes.Type, overflow func() error) (any, error) {
	lo, hi := intRange(t)
	if !n.IsInt64() || n.Int64() < lo || n.Int64() > hi {
		return nil, overflow()
	}
	return intOf(n.Int64(), t), nil
}

// parseIntString reads a character value as an integer the way CAST does: surrounding
// blanks ignored, an optional sign, digits only; the empty string is 0.
func parseIntString(s string) (*big.Int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return new(big.Int), true
	}
	body := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if body == "" || strings.Trim(body, "0123456789") != "" {
		return nil, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	return n, ok
}

func toInteger(v any, from, to sqltypes.Type) (any, error) {
	overflow := func() error { return errOverflow(typeName(to)) }
	switch {
	case from == sqltypes.NVarChar:
		s := v.(string)
		n, ok := parseIntString(s)
		if !ok {
			return nil, errConversionFailed(s, from, to)
		}
		return checkedInt(n, to, func() error {
			if to == sqltypes.BigInt {
				return errf(8114, "Error converting data type nvarchar to bigint.")
			}
			article := "a"
			if to == sqltypes.Int {
				article = "an"
			}
			return errf(248, "The conversion of the nvarchar value '%s' overflowed %s %s column.", s, article, typeName(to))
		})
	case isInteger(from):
		return checkedInt(big.NewInt(intValue(v)), to, overflow)
	case from == sqltypes.Numeric:
		d := v.(sqltypes.Decimal)
		return checkedInt(ratDecimal(decimalRat(d), 0, true).Unscaled, to, func() error {
			return errOverflowFrom("numeric", typeName(to))
		})
	case from == sqltypes.Float:
		f := math.Trunc(v.(float64))
		if math.Abs(f) > 1e19 {
			return nil, errOverflowFrom("float", typeName(to))
		}
		n, _ := big.NewFloat(f).Int(nil)
		return checkedInt(n, to, func() error { return errOverflowFrom("float", typeName(to)) })
	case from == sqltypes.DateTime:
		return checkedInt(big.NewInt(int64(math.Round(datetimeDays(v.(time.Time))))), to, overflow)
	case from == sqltypes.VarBinary:
		// binary → integer keeps the low-order bytes of the target's width.
		width := map[sqltypes.Type]int{sqltypes.Int: 4, sqltypes.SmallInt: 2, sqltypes.TinyInt: 1, sqltypes.BigInt: 8}[to]
		b := v.([]byte)
		if len(b) > width {
			b = b[len(b)-width:]
		}
		var buf [8]byte
		copy(buf[8-len(b):], b)
		n := binary.BigEndian.Uint64(buf[:])
		switch to {
		case sqltypes.Int:
			return int32(uint32(n)), nil
		case sqltypes.SmallInt:
			return int16(uint16(n)), nil
		case sqltypes.TinyInt:
			return uint8(n), nil
		}
		return int64(n), nil
	}
	return nil, errExplicitConversion(from, to)
}

func toBit(v any, from sqltypes.Type) (any, error) {
	switch {
	case from == sqltypes.NVarChar:
		s := strings.TrimSpace(v.(string))
		switch {
		case strings.EqualFold(s, "true"):
			return true, nil
		case strings.EqualFold(s, "false"):
			return false, nil
		}
		n, ok := parseIntString(s)
		if !ok {
			return nil, errConversionFailed(v.(string), from, sqltypes.Bit)
		}
		return n.Sign() != 0, nil
	case isInteger(from):
		return intValue(v) != 0, nil
	case from == sqltypes.Numeric:
		return unscaled(v.(sqltypes.Decimal)).Sign() != 0, nil
	case from == sqltypes.Float:
		return v.(float64) != 0, nil
	}
	return nil, errExplicitConversion(from, sqltypes.Bit)
}

// ---- numeric and float ----

// parseDecimalString reads a character value as numeric: blanks, a sign, digits with at
// most one decimal point; no exponent (CAST('1e5' AS numeric) fails in SQL Server too).
func parseDecimalString(s string) (sqltypes.Decimal, bool) {
	s = strings.TrimSpace(s)
	body := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if strings.Trim(body, "0123456789.") != "" || strings.Count(body, ".") > 1 || strings.Trim(body, ".") == "" {
		return sqltypes.Decimal{}, false
	}
	d, err := sqltypes.ParseDecimal(s)
	return d, err == nil
}

func floatDecimal(f float64) sqltypes.Decimal {
	d, _ := sqltypes.ParseDecimal(strconv.FormatFloat(f, 'f', -1, 64))
	return d
}

func toNumeric(v any, from sqltypes.Type, to sqltypes.Column) (any, error) {
	var d sqltypes.Decimal
	switch {
	case from == sqltypes.NVarChar:
		var ok bool
		if d, ok = parseDecimalString(v.(string)); !ok {
			return nil, errf(8114, "Error converting data type nvarchar to numeric.")
		}
	case isInteger(from):
		d = decimalFromInt(intValue(v))
	case from == sqltypes.Numeric:
		d = v.(sqltypes.Decimal)
	case from == sqltypes.Float:
		d = floatDecimal(v.(float64))
	case from == sqltypes.DateTime:
		d = floatDecimal(datetimeDays(v.(time.Time)))
	default:
		return nil, errExplicitConversion(from, sqltypes.Numeric)
	}
	if to.Precision == 0 {
		return d, nil
	}
	d = rescale(d, to.Scale)
	if !fitsPrecision(d, to.Precision) {
		return nil, errOverflowFrom(typeName(from), "numeric")
	}
	return d, nil
}

func toFloat(v any, from sqltypes.Type) (any, error) {
	switch {
	case from == sqltypes.NVarChar:
		s := strings.TrimSpace(v.(string))
		if s == "" {
			return 0.0, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || strings.Trim(s, "0123456789+-.eE") != "" {
			return nil, errf(8114, "Error converting data type nvarchar to float.")
		}
		return f, nil
	case isInteger(from):
		return float64(intValue(v)), nil
	case from == sqltypes.Numeric:
		return decimalFloat(v.(sqltypes.Decimal)), nil
	case from == sqltypes.Float:
		return v, nil
	case from == sqltypes.DateTime:
		return datetimeDays(v.(time.Time)), nil
	}
	return nil, errExplicitConversion(from, sqltypes.Float)
}

// ---- dates ----

func toDate(v any, from, to sqltypes.Type) (any, error) {
	var t time.Time
	switch {
	case from == sqltypes.NVarChar:
		var ok bool
		if t, ok = parseDateTime(v.(string)); !ok {
			return nil, errf(241, "Conversion failed when converting date and/or time from character string.")
		}
	case isDate(from):
		t = v.(time.Time)
	case to == sqltypes.DateTime && isNumber(from):
		f, err := toFloat(v, from)
		if err != nil {
			return nil, err
		}
		t = daysDatetime(f.(float64))
	default:
		return nil, errExplicitConversion(from, to)
	}
	if to == sqltypes.DateTime {
		t = roundDatetime(t)
		if t.Year() < 1753 || t.Year() > 9999 {
			return nil, errf(242, "The conversion of a %s data type to a datetime data type resulted in an out-of-range value.", typeName(from))
		}
	}
	return t, nil
}

// ---- uniqueidentifier and varbinary ----

func parseUUID(s string) (sqltypes.UUID, bool) {
	var u sqltypes.UUID
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = s[1 : len(s)-1]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return u, false
	}
	copy(u[:], b)
	return u, true
}

func toUUID(v any, from sqltypes.Type) (any, error) {
	switch from {
	case sqltypes.UniqueIdentifier:
		return v, nil
	case sqltypes.NVarChar:
		u, ok := parseUUID(v.(string))
		if !ok {
			return nil, errf(8169, "Conversion failed when converting from a character string to uniqueidentifier.")
		}
		return u, nil
	case sqltypes.VarBinary:
		var u sqltypes.UUID
		copy(u[:], v.([]byte))
		return u, nil
	}
	return nil, errExplicitConversion(from, sqltypes.UniqueIdentifier)
}

func toVarBinary(v any, from sqltypes.Type, to sqltypes.Column) (any, error) {
	var b []byte
	switch {
	case from == sqltypes.VarBinary:
		b = v.([]byte)
	case from == sqltypes.NVarChar:
		// nvarchar is UTF-16LE on the wire and in CAST(N'a' AS varbinary) = 0x6100.
		for _, u := range utf16.Encode([]rune(v.(string))) {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
	case from == sqltypes.UniqueIdentifier:
		u := v.(sqltypes.UUID)
		b = u[:]
	case isInteger(from):
		n := intValue(v)
		switch from {
		case sqltypes.Int:
			b = binary.BigEndian.AppendUint32(nil, uint32(n))
		case sqltypes.SmallInt:
			b = binary.BigEndian.AppendUint16(nil, uint16(n))
		case sqltypes.TinyInt, sqltypes.Bit:
			b = []byte{byte(n)}
		default:
			b = binary.BigEndian.AppendUint64(nil, uint64(n))
		}
	default:
		return nil, errExplicitConversion(from, sqltypes.VarBinary)
	}
	if to.Size > 0 && len(b) > to.Size {
		b = b[:to.Size]
	}
	return append([]byte(nil), b...), nil
}

// ---- character ----

func toNVarChar(v any, from sqltypes.Type, to sqltypes.Column, style int) (any, error) {
	s, err := formatValue(v, from, style)
	if err != nil {
		return nil, err
	}
	if to.Size > 0 && utf8.RuneCountInString(s) > to.Size {
		if isNumber(from) && from != sqltypes.Bit {
			// SQL Server refuses to cut digits off a number (it would change its value).
			return nil, errOverflow("nvarchar")
		}
		s = string([]rune(s)[:to.Size])
	}
	return s, nil
}

// formatValue renders a non-NULL value as text: CAST(x AS nvarchar) and CONVERT styles for
// dates, binary and float.
func formatValue(v any, from sqltypes.Type, style int) (string, error) {
	from = concrete(v, from)
	switch {
	case from == sqltypes.NVarChar:
		return v.(string), nil
	case from == sqltypes.Bit:
		if v.(bool) {
			return "1", nil
		}
		return "0", nil
	case isInteger(from):
		return strconv.FormatInt(intValue(v), 10), nil
	case from == sqltypes.Numeric:
		return v.(sqltypes.Decimal).String(), nil
	case from == sqltypes.Float:
		return formatFloat(v.(float64), style), nil
	case isDate(from):
		return formatDate(v.(time.Time), from, style)
	case from == sqltypes.UniqueIdentifier:
		return v.(sqltypes.UUID).String(), nil
	case from == sqltypes.VarBinary:
		b := v.([]byte)
		switch style {
		case 1:
			return "0x" + strings.ToUpper(hex.EncodeToString(b)), nil
		case 2:
			return strings.ToUpper(hex.EncodeToString(b)), nil
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	}
	return "", errExplicitConversion(from, sqltypes.NVarChar)
}

// formatFloat follows CONVERT's float styles: 0 (the default) shows 6 significant digits
// and a three-digit exponent (1.23457e+006); 3 is the shortest exact form.
func formatFloat(f float64, style int) string {
	prec := 6
	switch style {
	case 1:
		prec = 8
	case 2:
		prec = 16
	case 3:
		prec = -1
	}
	s := strconv.FormatFloat(f, 'g', prec, 64)
	if i := strings.IndexByte(s, 'e'); i >= 0 {
		mant, exp := s[:i+2], s[i+2:] // "1.23457e+", "06"
		for len(exp) < 3 {
			exp = "0" + exp
		}
		s = mant + exp
	}
	return s
}
