package tds

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// A numeric value written for a result set decodes, as a parameter, to the same number
// at the column's scale.
func TestNumericEncodingRoundTrip(t *testing.T) {
	tests := []struct {
		in        string
		precision uint8
		scale     uint8
		want      string
	}{
		{"0", 25, 0, "0"},
		{"12345678901234567890123", 25, 0, "12345678901234567890123"},
		{"-12345678901234567890123", 25, 0, "-12345678901234567890123"},
		{"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999"},
		{"-12.5", 10, 2, "-12.50"},
		{"1.005", 10, 2, "1.01"},   // half away from zero
		{"-1.005", 10, 2, "-1.01"}, // half away from zero
		{"1.004", 10, 2, "1.00"},
		{"7", 5, 0, "7"},
	}
	for _, tc := range tests {
		col := sqltypes.Column{Type: sqltypes.Numeric, Precision: tc.precision, Scale: tc.scale}
		d, err := sqltypes.ParseDecimal(tc.in)
		require.NoError(t, err)
		var b tokenBuf
		require.NoError(t, appendValue(&b, col, d), tc.in)
		require.Equal(t, numericBytes(tc.precision), int(b[0]), "length byte for precision %d", tc.precision)

		v, err := decodeParamValue(typeNumericN, b[1:], tc.precision, tc.scale, time.UTC)

		require.NoError(t, err)
		assert.Equal(t, tc.want, v.(sqltypes.Decimal).String(), tc.in)
	}
}

func TestNumericThatDoesNotFitIsRefused(t *testing.T) {
	col := sqltypes.Column{Name: "n", Type: sqltypes.Numeric, Precision: 9}
	var b tokenBuf
	assert.Error(t, appendValue(&b, col, sqltypes.NewDecimalInt(new(big.Int).Lsh(big.NewInt(1), 40))))
	assert.Empty(t, b)
}

func TestDateTimeEncoding(t *testing.T) {
	tests := []struct {
		in    time.Time
		days  int32
		ticks uint32
	}{
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 0, 0},
		{time.Date(1899, 12, 31, 0, 0, 1, 0, time.UTC), -1, 300},
		{time.Date(2000, 1, 1, 0, 0, 0, 3_333_333, time.UTC), 36524, 1},
		// 23:59:59.999 rounds to the next midnight, as SQL Server does.
		{time.Date(2024, 2, 28, 23, 59, 59, 999_000_000, time.UTC), 45349, 0},
	}
	for _, tc := range tests {
		days, ticks := encodeDateTime(tc.in)
		assert.Equal(t, tc.days, days, "%v", tc.in)
		assert.Equal(t, tc.ticks, ticks, "%v", tc.in)
	}
}

func TestGUIDByteOrder(t *testing.T) {
	u := sqltypes.UUID{0x6F, 0x96, 0x19, 0xFF, 0x8B, 0x86, 0xD0, 0x11, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}

	w := guidToWire(u)

	assert.Equal(t, []byte{0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}, w[:])
	assert.Equal(t, u, guidFromWire(w[:]))
}

func TestFromError(t *testing.T) {
	assert.Equal(t, Message{Number: 3013, State: 1, Class: 16, Text: "BACKUP DATABASE is terminating abnormally."},
		FromError(sqltypes.Errorf(3013, 16, "BACKUP DATABASE is terminating abnormally.")))
	m := &Message{Number: 18456, State: 1, Class: 14, Text: "Login failed for user 'x'.", Line: 1}
	assert.Equal(t, *m, FromError(m))
	assert.Equal(t, Message{Number: 50000, State: 1, Class: 16, Text: "boom"}, FromError(errors.New("boom")))
	assert.Equal(t, "Msg 18456, Level 14, State 1, Line 1: Login failed for user 'x'.", m.Error())
}
