package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reviewer's case (issue 11, item 7): a weekly full kept one week and differentials kept
// one day. On Sunday just after midnight the last full (from the previous Sunday) has left
// the weekly window and Friday's differential the differential window, so nothing in the
// listing needs the full; but Saturday's differential, based on that full, is still
// streaming (it is not in the listing) and commits at 02:00. Retention must not delete the
// base of a differential that may still be in flight: the newest full stays until the next
// full has been finished for longer than a backup may run (BackupMaxDuration).
func TestRetainKeepsTheBaseOfDifferentialsStillInFlight(t *testing.T) {
	p := Policy{
		Name:         "weekly",
		Full:         FullSchedule{Frequency: FrequencyWeekly, Weekdays: []time.Weekday{time.Sunday}, TimeOfDay: "23:00", TimeZone: "UTC"},
		Differential: &DiffSchedule{Weekdays: []time.Weekday{1, 2, 3, 4, 5, 6}, TimeOfDay: "23:00"},
		Retention:    Retention{Weekly: &KeepWeekly{Weeks: 1, Weekday: time.Sunday}, DifferentialDays: 1},
	}
	require.NoError(t, p.Validate())
	sun := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC) // a Sunday
	tl := newTimeline()
	f0 := tl.full("F0", sun, false)
	f0.Finish = sun.Add(20 * time.Minute)
	for d := 1; d <= 5; d++ {
		tl.diff("D"+string(rune('0'+d)), sun.AddDate(0, 0, d))
	}
	// Saturday's differential (based on F0) started at 23:00 and is still streaming.
	now := time.Date(2026, 3, 8, 0, 30, 0, 0, time.UTC)
	got := decisionsByID(Retain(tl.points, p, now))
	require.True(t, got["F0"].Keep, "F0 is the base of the differential in flight: %v", got["F0"].Reasons)
	assert.Equal(t, []string{"the newest full: the base of differentials that may still be in flight"}, got["F0"].Reasons)
	assert.False(t, got["D5"].Keep, "Friday's differential has expired")

	// The next full finishes Sunday 23:20; a differential based on F0 started before that
	// ends within BackupMaxDuration, so F0 stays until then and expires after.
	f1 := tl.full("F1", sun.AddDate(0, 0, 7), false)
	f1.Finish = f1.Start.Add(20 * time.Minute)
	until := f1.Finish.Add(BackupMaxDuration)
	got = decisionsByID(Retain(tl.points, p, until.Add(-time.Minute)))
	assert.True(t, got["F0"].Keep)
	assert.Equal(t, []string{"a differential based on it may still be in flight until " + stamp(until)}, got["F0"].Reasons)
	assert.True(t, got["F1"].Keep)
	got = decisionsByID(Retain(tl.points, p, until.Add(time.Minute)))
	assert.False(t, got["F0"].Keep, "no differential based on F0 can still be in flight")
	assert.True(t, got["F1"].Keep)

	// A copy-only full is never a differential base: it does not end F0's watch.
	tl2 := newTimeline()
	g0 := tl2.full("F0", sun, false)
	g0.Finish = sun.Add(20 * time.Minute)
	tl2.full("C1", sun.AddDate(0, 0, 2), true)
	got = decisionsByID(Retain(tl2.points, p, sun.AddDate(0, 0, 30)))
	assert.True(t, got["F0"].Keep, "still the newest full: %v", got["F0"].Reasons)
}
