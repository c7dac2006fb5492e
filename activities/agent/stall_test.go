package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestStallWatch(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	noRequest := func() (float64, bool) { return 0, false }
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	t.Run("bytes moving is never a stall", func(t *testing.T) {
		w := newStallWatch(time.Minute, 10*time.Minute, t0)
		for i := 1; i <= 120; i++ {
			stuck, _ := w.observe(at(time.Duration(i)*time.Minute), int64(i), 0, noRequest)
			assert.False(t, stuck)
		}
	})
	t.Run("no bytes and no SQL Server progress: stalled after the limit and one probe window", func(t *testing.T) {
		w := newStallWatch(time.Minute, 10*time.Minute, t0)
		stuck, _ := w.observe(at(5*time.Second), 100, 3, noRequest)
		assert.False(t, stuck)
		stuck, _ = w.observe(at(50*time.Second), 100, 3, noRequest)
		assert.False(t, stuck, "within the limit")
		stuck, _ = w.observe(at(70*time.Second), 100, 3, noRequest)
		assert.False(t, stuck, "the first probe gives SQL Server a window")
		stuck, idle := w.observe(at(130*time.Second), 100, 3, noRequest)
		assert.True(t, stuck)
		assert.Equal(t, 125*time.Second, idle)
	})
	t.Run("SQL Server still reading: waits up to the longer limit", func(t *testing.T) {
		w := newStallWatch(time.Minute, 10*time.Minute, t0)
		w.observe(t0, 100, 3, noRequest)
		pct := 10.0
		reading := func() (float64, bool) { pct += 0.5; return pct, true }
		for d := time.Minute; d < 10*time.Minute; d += 30 * time.Second {
			stuck, _ := w.observe(at(d), 100, 3, reading)
			assert.False(t, stuck, "at %s", d)
		}
		stuck, _ := w.observe(at(10*time.Minute), 100, 3, reading)
		assert.True(t, stuck, "the busy limit bounds a stream without bytes")
	})
	t.Run("SQL Server stops reading: stalled one window later", func(t *testing.T) {
		w := newStallWatch(time.Minute, 10*time.Minute, t0)
		w.observe(t0, 100, 3, noRequest)
		stuck, _ := w.observe(at(61*time.Second), 100, 3, func() (float64, bool) { return 40, true })
		assert.False(t, stuck)
		stuck, _ = w.observe(at(90*time.Second), 100, 3, func() (float64, bool) { return 41, true })
		assert.False(t, stuck)
		stuck, _ = w.observe(at(150*time.Second), 100, 3, func() (float64, bool) { return 41, true })
		assert.True(t, stuck)
	})
	t.Run("RESTORE past its last read (100 percent) is working, up to the longer limit", func(t *testing.T) {
		w := newStallWatch(time.Minute, 10*time.Minute, t0)
		w.observe(t0, 100, 100, noRequest)
		done := func() (float64, bool) { return 100, true }
		for d := time.Minute; d < 10*time.Minute; d += 30 * time.Second {
			stuck, _ := w.observe(at(d), 100, 100, done)
			assert.False(t, stuck, "at %s", d)
		}
		stuck, _ := w.observe(at(10*time.Minute), 100, 100, done)
		assert.True(t, stuck)
	})
	t.Run("STATS percent counts as progress", func(t *testing.T) {
		w := newStallWatch(time.Minute, 10*time.Minute, t0)
		for i := 1; i <= 30; i++ {
			stuck, _ := w.observe(at(time.Duration(i)*time.Minute), 100, i, noRequest)
			assert.False(t, stuck)
		}
	})
}
