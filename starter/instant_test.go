package starter

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --at takes instants only: Z or an explicit offset. A local time without one is refused
// with a named error that says what to write, never read in some zone.
func TestParseInstantRequiresAnOffset(t *testing.T) {
	want := time.Date(2026, 11, 1, 5, 30, 30, 0, time.UTC)
	for _, s := range []string{"2026-11-01T05:30:30Z", "2026-11-01T01:30:30-04:00", "2026-11-01T00:30:30-05:00", "2026-11-01T06:30:30+01:00"} {
		got, err := parseInstant(s)
		require.NoError(t, err, s)
		assert.True(t, want.Equal(got), "%s → %s", s, got)
		assert.Equal(t, time.UTC, got.Location())
	}
	for _, s := range []string{"2026-11-01T01:30:30", "2026-11-01 01:30:30", "2026-11-01T01:30", "yesterday", ""} {
		_, err := parseInstant(s)
		require.Error(t, err, s)
		assert.True(t, errors.Is(err, ErrAmbiguousInstant), "%s: %v", s, err)
	}
	_, err := parseInstant("2026-11-01T01:30:30")
	assert.Contains(t, err.Error(), "2026-11-01T01:30:30Z", "says how to write it")
}
