package control

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/control/planner"
)

func TestInstantAtSpreadsOverClippedRanges(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	ranges := []planner.Range{{From: h(0), To: h(10)}, {From: h(12), To: h(12)}, {From: h(20), To: h(30)}}
	// The window [5h, 25h] holds 5h of the first range, the one instant at 12h, 5h of the last.
	cases := []struct {
		f    float64
		want time.Time
	}{
		{0, h(5)}, {0.2, h(7)}, {0.5, h(12)}, {0.6, h(21)}, {0.9, h(24)}, {1.5, h(5)}, {-1, h(5)},
	}
	for _, c := range cases {
		got, ok := instantAt(ranges, h(5), h(25), c.f)
		assert.True(t, ok)
		assert.Equal(t, c.want, got, "fraction %v", c.f)
	}
	_, ok := instantAt(ranges, h(31), h(40), 0.5)
	assert.False(t, ok, "nothing restorable in the window")
	got, ok := instantAt([]planner.Range{{From: h(12), To: h(12)}}, h(5), h(25), 0.7)
	assert.True(t, ok)
	assert.Equal(t, h(12), got, "a window holding one instant gives it")
}
