package tds

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// TDS data type ids (MS-TDS 2.2.5.4).
const (
	typeNull            = 0x1F
	typeInt1            = 0x30
	typeBit             = 0x32
	typeInt2            = 0x34
	typeInt4            = 0x38
	typeDateTim4        = 0x3A
	typeFlt4            = 0x3B
	typeMoney           = 0x3C
	typeDateTime        = 0x3D
	typeFlt8            = 0x3E
	typeMoney4          = 0x7A
	typeInt8            = 0x7F
	typeGUID            = 0x24
	typeIntN            = 0x26
	typeDecimal         = 0x37
	typeNumeric         = 0x3F
	typeBitN            = 0x68
	typeDecimalN        = 0x6A
	typeNumericN        = 0x6C
	typeFltN            = 0x6D
	typeMoneyN          = 0x6E
	typeDateTimeN       = 0x6F
	typeDateN           = 0x28
	typeTimeN           = 0x29
	typeDateTime2N      = 0x2A
	typeDateTimeOffsetN = 0x2B
	typeBigVarBin       = 0xA5
	typeBigVarChar      = 0xA7
	typeBigBinary       = 0xAD
	typeBigChar         = 0xAF
	typeNVarChar        = 0xE7
	typeNChar           = 0xEF
)

const (
	plpNull       = 0xFFFFFFFFFFFFFFFF
	plpUnknownLen = 0xFFFFFFFFFFFFFFFE
	varLenMax     = 0xFFFF // USHORTLEN max length that announces a (max) type sent as PLP
	shortLenNull  = 0xFFFF
)

// Reference days: datetime counts from 1900-01-01, date/datetime2 from 0001-01-01.
var (
	epoch1900Days = civilDays(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC))
	epoch0001Days = civilDays(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
)

// civilDays numbers t's wall-clock date (in its own zone) as days since 1970-01-01.
// time.Duration cannot span the 2000 years from year 1, so this goes through Unix seconds.
func civilDays(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// nanosOfDay is t's wall-clock time of day.
func nanosOfDay(t time.Time) int64 {
	h, m, s := t.Clock()
	return (int64(h)*3600+int64(m)*60+int64(s))*1e9 + int64(t.Nanosecond())
}

// sizes of the short-length (USHORTLEN) types; 0 means nvarchar(max)/varbinary(max) sent as PLP.
func nvarcharMaxBytes(c sqltypes.Column) int {
	switch {
	case c.Size <= 0:
		return 8000 // nvarchar(4000), see sqltypes.Column.Size
	case c.Size > 4000:
		return 0
	}
	return 2 * c.Size
}

func varbinaryMaxBytes(c sqltypes.Column) int {
	switch {
	case c.Size <= 0:
		return 8000
	case c.Size > 8000:
		return 0
	}
	return c.Size
}

// numericPrecision defaults an unset precision to 38, SQL Server's decimal maximum.
func numericPrecision(c sqltypes.Column) uint8 {
	if c.Precision == 0 {
		return 38
	}
	return c.Precision
}

// numericBytes is the wire length (sign byte included) SQL Server uses for a precision.
func numericBytes(precision uint8) int {
	switch {
	case precision <= 9:
		return 5
	case precision <= 19:
		return 9
	case precision <= 28:
		return 13
	}
	return 17
}

// appendTypeInfo writes a column's TYPE_INFO.
func appendTypeInfo(b *tokenBuf, c sqltypes.Column) error {
	switch c.Type {
	case sqltypes.NVarChar:
		b.u8(typeNVarChar)
		if n := nvarcharMaxBytes(c); n == 0 {
			b.u16(varLenMax)
		} else {
			b.u16(uint16(n))
		}
		b.raw(collationLatin1CIAS)
	case sqltypes.VarBinary:
		b.u8(typeBigVarBin)
		if n := varbinaryMaxBytes(c); n == 0 {
			b.u16(varLenMax)
		} else {
			b.u16(uint16(n))
		}
	case sqltypes.TinyInt, sqltypes.SmallInt, sqltypes.Int, sqltypes.BigInt:
		b.u8(typeIntN)
		b.u8(byte(intSize(c.Type)))
	case sqltypes.Bit:
		b.u8(typeBitN)
		b.u8(1)
	case sqltypes.Numeric:
		p := numericPrecision(c)
		if p > 38 || c.Scale > p {
			return fmt.Errorf("tds: column %q: numeric(%d,%d) is not a valid type", c.Name, p, c.Scale)
		}
		b.u8(typeNumericN)
		b.u8(byte(numericBytes(p)))
		b.u8(p)
		b.u8(c.Scale)
	case sqltypes.Float:
		b.u8(typeFltN)
		b.u8(8)
	case sqltypes.DateTime:
		b.u8(typeDateTimeN)
		b.u8(8)
	case sqltypes.DateTime2:
		b.u8(typeDateTime2N)
		b.u8(7) // scale: datetime2(7), 100 ns
	case sqltypes.UniqueIdentifier:
		b.u8(typeGUID)
		b.u8(16)
	default:
		return fmt.Errorf("tds: column %q has unsupported type %v", c.Name, c.Type)
	}
	return nil
}

func intSize(t sqltypes.Type) int {
	switch t {
	case sqltypes.TinyInt:
		return 1
	case sqltypes.SmallInt:
		return 2
	case sqltypes.Int:
		return 4
	}
	return 8
}

// appendValue writes one column value of a ROW token. nil is SQL NULL. Besides each type's
// sqltypes representation it accepts any Go integer for integer columns (range-checked) and
// float32 for Float, so the engine need not convert literals by hand.
func appendValue(b *tokenBuf, c sqltypes.Column, v any) error {
	if p, ok := v.(*sqltypes.Decimal); ok {
		if p == nil {
			v = nil
		} else {
			v = *p
		}
	}
	switch c.Type {
	case sqltypes.NVarChar:
		if v == nil {
			appendVarLen(b, nvarcharMaxBytes(c), nil)
			return nil
		}
		s, ok := v.(string)
		if !ok {
			return mismatch(c, v)
		}
		return appendVarLenChecked(b, c, nvarcharMaxBytes(c), encodeUCS2(s))
	case sqltypes.VarBinary:
		if v == nil {
			appendVarLen(b, varbinaryMaxBytes(c), nil)
			return nil
		}
		p, ok := v.([]byte)
		if !ok {
			return mismatch(c, v)
		}
		if p == nil {
			p = []byte{} // a nil slice of a non-nil value is an empty binary, not NULL
		}
		return appendVarLenChecked(b, c, varbinaryMaxBytes(c), p)
	case sqltypes.TinyInt, sqltypes.SmallInt, sqltypes.Int, sqltypes.BigInt:
		if v == nil {
			b.u8(0)
			return nil
		}
		n, ok := toInt64(v)
		if !ok || !intFits(c.Type, n) {
			return mismatch(c, v)
		}
		size := intSize(c.Type)
		b.u8(byte(size))
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], uint64(n))
		b.raw(tmp[:size])
	case sqltypes.Bit:
		if v == nil {
			b.u8(0)
			return nil
		}
		x, ok := v.(bool)
		if !ok {
			return mismatch(c, v)
		}
		b.u8(1)
		if x {
			b.u8(1)
		} else {
			b.u8(0)
		}
	case sqltypes.Numeric:
		if v == nil {
			b.u8(0)
			return nil
		}
		return appendNumeric(b, c, v)
	case sqltypes.Float:
		if v == nil {
			b.u8(0)
			return nil
		}
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		default:
			return mismatch(c, v)
		}
		b.u8(8)
		b.u64(math.Float64bits(f))
	case sqltypes.DateTime:
		if v == nil {
			b.u8(0)
			return nil
		}
		t, ok := v.(time.Time)
		if !ok {
			return mismatch(c, v)
		}
		days, ticks := encodeDateTime(t)
		b.u8(8)
		b.u32(uint32(days))
		b.u32(ticks)
	case sqltypes.DateTime2:
		if v == nil {
			b.u8(0)
			return nil
		}
		t, ok := v.(time.Time)
		if !ok {
			return mismatch(c, v)
		}
		if t.Year() < 1 || t.Year() > 9999 {
			return fmt.Errorf("tds: column %q: %v is outside the datetime2 range", c.Name, t)
		}
		b.u8(8)
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], uint64(nanosOfDay(t)/100)) // 100 ns units in 5 bytes
		b.raw(tmp[:5])
		binary.LittleEndian.PutUint32(tmp[:], uint32(civilDays(t)-epoch0001Days))
		b.raw(tmp[:3])
	case sqltypes.UniqueIdentifier:
		if v == nil {
			b.u8(0)
			return nil
		}
		u, ok := v.(sqltypes.UUID)
		if !ok {
			return mismatch(c, v)
		}
		b.u8(16)
		w := guidToWire(u)
		b.raw(w[:])
	default:
		return fmt.Errorf("tds: column %q has unsupported type %v", c.Name, c.Type)
	}
	return nil
}

func mismatch(c sqltypes.Column, v any) error {
	return fmt.Errorf("tds: column %q is %v, cannot send a %T (%v)", c.Name, c.Type, v, v)
}

// appendVarLen writes a USHORTLEN value, or a PLP value when maxBytes is 0 (a (max) column).
// data == nil is NULL.
func appendVarLen(b *tokenBuf, maxBytes int, data []byte) {
	if maxBytes == 0 {
		if data == nil {
			b.u64(plpNull)
			return
		}
		b.u64(uint64(len(data)))
		if len(data) > 0 {
			b.u32(uint32(len(data))) // one chunk; the client accepts any chunking
			b.raw(data)
		}
		b.u32(0) // PLP terminator
		return
	}
	if data == nil {
		b.u16(shortLenNull)
		return
	}
	b.u16(uint16(len(data)))
	b.raw(data)
}

// appendVarLenChecked refuses values longer than the declared column: go-mssqldb sizes its
// read buffer from COLMETADATA and would fail on a longer value.
func appendVarLenChecked(b *tokenBuf, c sqltypes.Column, maxBytes int, data []byte) error {
	if maxBytes != 0 && len(data) > maxBytes {
		return fmt.Errorf("tds: column %q: value of %d bytes is longer than the declared %d bytes", c.Name, len(data), maxBytes)
	}
	if maxBytes == 0 && len(data) > math.MaxInt32 {
		return fmt.Errorf("tds: column %q: value of %d bytes is too large", c.Name, len(data))
	}
	appendVarLen(b, maxBytes, data)
	return nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(x), uint64(x) <= math.MaxInt64
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}

func intFits(t sqltypes.Type, n int64) bool {
	switch t {
	case sqltypes.TinyInt:
		return n >= 0 && n <= math.MaxUint8
	case sqltypes.SmallInt:
		return n >= math.MinInt16 && n <= math.MaxInt16
	case sqltypes.Int:
		return n >= math.MinInt32 && n <= math.MaxInt32
	}
	return true
}

// appendNumeric writes NUMERICN: length, sign (1 = positive), magnitude little-endian,
// padded to the length SQL Server uses for the column's precision.
func appendNumeric(b *tokenBuf, c sqltypes.Column, v any) error {
	var d sqltypes.Decimal
	switch x := v.(type) {
	case sqltypes.Decimal:
		d = x
	default:
		n, ok := toInt64(v)
		if !ok {
			return mismatch(c, v)
		}
		d = sqltypes.Decimal{Unscaled: big.NewInt(n)}
	}
	unscaled := rescale(d, c.Scale)
	size := numericBytes(numericPrecision(c))
	mag := new(big.Int).Abs(unscaled).Bytes() // big-endian
	if len(mag) > size-1 {
		return fmt.Errorf("tds: column %q: %s does not fit numeric(%d,%d)", c.Name, d, numericPrecision(c), c.Scale)
	}
	b.u8(byte(size))
	if unscaled.Sign() < 0 {
		b.u8(0)
	} else {
		b.u8(1)
	}
	le := make([]byte, size-1)
	for i, x := range mag {
		le[len(mag)-1-i] = x
	}
	b.raw(le)
	return nil
}

// rescale returns d's unscaled value at the given scale, rounding half away from zero
// when digits must be dropped (as SQL Server does when converting to a smaller scale).
func rescale(d sqltypes.Decimal, scale uint8) *big.Int {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	switch {
	case d.Scale == scale:
		return new(big.Int).Set(u)
	case d.Scale < scale:
		f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-d.Scale)), nil)
		return f.Mul(f, u)
	}
	f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale-scale)), nil)
	q, r := new(big.Int).QuoRem(u, f, new(big.Int))
	if r.Abs(r).Lsh(r, 1).Cmp(f) >= 0 {
		if u.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// encodeDateTime turns t's wall clock into datetime's days since 1900-01-01 and
// 1/300 s ticks since midnight.
func encodeDateTime(t time.Time) (days int32, ticks uint32) {
	d := civilDays(t) - epoch1900Days
	tk := (nanosOfDay(t)*3 + 5e6) / 1e7 // round to the nearest 1/300 s
	if tk >= 300*86400 {
		d++
		tk -= 300 * 86400
	}
	return int32(d), uint32(tk)
}

// guidToWire converts a canonical UUID to SQL Server's byte order: the first three groups
// little-endian, the last two as they are. go-mssqldb's UniqueIdentifier.Scan undoes this.
func guidToWire(u sqltypes.UUID) [16]byte {
	w := u
	w[0], w[1], w[2], w[3] = u[3], u[2], u[1], u[0]
	w[4], w[5] = u[5], u[4]
	w[6], w[7] = u[7], u[6]
	return w
}

// guidFromWire is the inverse of guidToWire (the swap is its own inverse).
func guidFromWire(b []byte) sqltypes.UUID {
	var w sqltypes.UUID
	copy(w[:], b)
	return sqltypes.UUID(guidToWire(w))
}
