package sqlserver

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLocalTimeConversions(t *testing.T) {
	for tz, want := range map[int32]int{-20: -300, -16: -240, 4: 60, 0: 0, 22: 330} {
		off, ok := offsetFromTimeZone(sql.NullInt32{Int32: tz, Valid: true})
		assert.True(t, ok)
		assert.Equal(t, want, off, "time_zone %d", tz)
	}
	for _, tz := range []sql.NullInt32{{}, {Int32: 127, Valid: true}, {Int32: 200, Valid: true}} {
		_, ok := offsetFromTimeZone(tz)
		assert.False(t, ok, "time_zone %v is unknown", tz)
	}
	// The two clocks are read a moment apart: round to the quarter hour.
	for secs, want := range map[int]int{3599: 60, 3601: 60, -18001: -300, -17999: -300, 19800: 330, 1: 0, -1: 0} {
		assert.Equal(t, want, roundToQuarterHour(secs), "%d s", secs)
	}
}
