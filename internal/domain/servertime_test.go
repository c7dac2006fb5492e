package domain

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestServerLocalTime(t *testing.T) {
	// 01:30:30 local on a server at UTC-5 is 06:30:30 UTC, and back.
	local := time.Date(2026, 11, 1, 1, 30, 30, 0, time.UTC)
	utc := time.Date(2026, 11, 1, 6, 30, 30, 0, time.UTC)
	assert.Equal(t, utc, FromServerLocal(local, -300))
	assert.Equal(t, local, ToServerLocal(utc, -300))
	assert.Equal(t, local, ToServerLocal(utc.In(time.FixedZone("CET", 3600)), -300), "the instant, whatever its location")
	// A reading in another location is read by its wall clock, not as an instant.
	assert.Equal(t, utc, FromServerLocal(time.Date(2026, 11, 1, 1, 30, 30, 0, time.FixedZone("X", 7200)), -300))
}
