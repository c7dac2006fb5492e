package policy

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSchedules(t *testing.T) {
	everyDay := []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	tests := []struct {
		name   string
		policy Policy
		want   map[string]Schedule
	}{
		{name: "daily full and hourly logs", policy: daily(), want: map[string]Schedule{
			KindFull: {Hour: 22, Minute: 0, Weekdays: everyDay, TimeZone: "Europe/Paris", Comment: `sqlvault policy "gold": full backup`},
			KindLog:  {Every: time.Hour, TimeZone: "Europe/Paris", Comment: `sqlvault policy "gold": log backup`},
		}},
		{name: "weekly full, differentials, 15-minute logs", policy: func() Policy {
			p := weekly()
			p.Full.Weekdays = []time.Weekday{time.Wednesday, time.Sunday} // out of order on purpose
			p.Differential.Weekdays = []time.Weekday{time.Saturday, time.Monday}
			return p
		}(), want: map[string]Schedule{
			KindFull: {Hour: 1, Minute: 0, Weekdays: []time.Weekday{time.Sunday, time.Wednesday}, TimeZone: "Europe/Paris",
				Comment: `sqlvault policy "silver": full backup`},
			KindDifferential: {Hour: 19, Minute: 30, Weekdays: []time.Weekday{time.Monday, time.Saturday}, TimeZone: "Europe/Paris",
				Comment: `sqlvault policy "silver": differential backup`},
			KindLog: {Every: 15 * time.Minute, TimeZone: "Europe/Paris", Comment: `sqlvault policy "silver": log backup`},
		}},
		{name: "full only, New York", policy: func() Policy {
			p := daily()
			p.Full.TimeZone, p.Full.TimeOfDay = "America/New_York", "23:45"
			p.Log, p.Retention.LogDays = nil, 0
			return p
		}(), want: map[string]Schedule{
			KindFull: {Hour: 23, Minute: 45, Weekdays: everyDay, TimeZone: "America/New_York", Comment: `sqlvault policy "gold": full backup`},
		}},
		{name: "invalid policy: no schedules", policy: func() Policy {
			p := daily()
			p.Log.EveryMinutes = 5
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.Schedules())
		})
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// runs iterates Next n times from after.
func runs(t *testing.T, p Policy, kind string, after time.Time, n int) []time.Time {
	t.Helper()
	var out []time.Time
	for range n {
		next, ok := p.Next(kind, after)
		require.True(t, ok)
		out = append(out, next.UTC())
		after = next
	}
	return out
}

func TestNextAcrossDST(t *testing.T) {
	// Europe/Paris: 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
	skipped := daily()
	skipped.Full.TimeOfDay = "02:30" // refused by Validate; Next still mirrors Temporal
	tests := []struct {
		name   string
		policy Policy
		kind   string
		after  string
		want   []string
	}{
		{name: "daily 22:00 keeps the wall clock into summer time (23 h apart)", policy: daily(), kind: KindFull,
			after: "2026-03-27T21:00:00Z",
			want:  []string{"2026-03-28T21:00:00Z", "2026-03-29T20:00:00Z", "2026-03-30T20:00:00Z"}},
		{name: "daily 22:00 keeps the wall clock into winter time (25 h apart)", policy: daily(), kind: KindFull,
			after: "2026-10-24T19:59:59Z",
			want:  []string{"2026-10-24T20:00:00Z", "2026-10-25T21:00:00Z"}},
		{name: "weekly Sunday 01:00, strictly after an exact run", policy: weekly(), kind: KindFull,
			after: "2026-03-22T00:00:00Z",
			want:  []string{"2026-03-29T00:00:00Z", "2026-04-04T23:00:00Z"}},
		{name: "differential Monday–Saturday 19:30", policy: weekly(), kind: KindDifferential,
			after: "2026-03-28T18:30:00Z", // Saturday 19:30 CET exactly
			want:  []string{"2026-03-30T17:30:00Z", "2026-03-31T17:30:00Z"}},
		{name: "logs count from the epoch, not the wall clock", policy: daily(), kind: KindLog,
			after: "2026-03-29T00:59:59Z",
			want:  []string{"2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z", "2026-03-29T03:00:00Z"}},
		{name: "a skipped wall time does not run that day (as Temporal)", policy: skipped, kind: KindFull,
			after: "2026-03-28T01:30:00Z",
			want:  []string{"2026-03-30T00:30:00Z"}},
		{name: "a repeated wall time runs in each copy (as Temporal)", policy: skipped, kind: KindFull,
			after: "2026-10-24T00:30:00Z",
			want:  []string{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []time.Time
			for _, s := range tt.want {
				want = append(want, utc(s))
			}
			assert.Equal(t, want, runs(t, tt.policy, tt.kind, utc(tt.after), len(want)))
		})
	}
}

func TestNextNotScheduled(t *testing.T) {
	at := utc("2026-03-01T00:00:00Z")
	for _, kind := range []string{KindDifferential, "copy-only-full", ""} {
		_, ok := daily().Next(kind, at)
		assert.False(t, ok, kind)
	}
	bad := daily()
	bad.Full.TimeZone = "Mars/Base"
	_, ok := bad.Next(KindFull, at)
	assert.False(t, ok)
}

// TestNextMatchesSchedule checks Next against the schedules themselves: every minute of a
// fortnight across the clock change is matched against the schedule's fields in its zone,
// the way a cron reader would, and the matches must be exactly Next's runs. (The Temporal
// spec built from a Schedule is checked field by field in activities/control.)
func TestNextMatchesSchedule(t *testing.T) {
	p := weekly()
	p.Full.Weekdays = []time.Weekday{time.Sunday, time.Wednesday}
	p.Differential.Weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Thursday, time.Friday, time.Saturday}
	scheds := p.Schedules()
	require.NotNil(t, scheds)
	from, to := utc("2026-03-22T00:00:00Z"), utc("2026-04-06T00:00:00Z")
	for _, kind := range []string{KindFull, KindDifferential} {
		s := scheds[kind]
		loc, err := time.LoadLocation(s.TimeZone)
		require.NoError(t, err)
		var brute []time.Time
		for m := from.Add(time.Minute); m.Before(to); m = m.Add(time.Minute) {
			l := m.In(loc)
			if l.Hour() == s.Hour && l.Minute() == s.Minute && slices.Contains(s.Weekdays, l.Weekday()) {
				brute = append(brute, m)
			}
		}
		var got []time.Time
		for at := from; ; {
			next, ok := p.Next(kind, at)
			require.True(t, ok)
			if !next.Before(to) {
				break
			}
			got = append(got, next.UTC())
			at = next
		}
		assert.Equal(t, brute, got, kind)
		assert.NotEmpty(t, got)
	}
}
