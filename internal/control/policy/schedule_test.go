package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

func one(v int) []client.ScheduleRange { return []client.ScheduleRange{{Start: v, End: v}} }

func TestScheduleSpecs(t *testing.T) {
	everyDay := []client.ScheduleRange{{Start: 1, End: 31}}
	everyMonth := []client.ScheduleRange{{Start: 1, End: 12}}
	tests := []struct {
		name   string
		policy Policy
		want   map[string]client.ScheduleSpec
	}{
		{name: "daily full and hourly logs", policy: daily(), want: map[string]client.ScheduleSpec{
			KindFull: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(0), Hour: one(22), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 0, End: 6}},
				Comment:   `sqlvault policy "gold": full backup`,
			}}, TimeZoneName: "Europe/Paris"},
			KindLog: {Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}, TimeZoneName: "Europe/Paris"},
		}},
		{name: "weekly full, differentials, 15-minute logs", policy: func() Policy {
			p := weekly()
			p.Full.Weekdays = []time.Weekday{time.Wednesday, time.Sunday} // out of order on purpose
			p.Differential.Weekdays = []time.Weekday{time.Saturday, time.Monday}
			return p
		}(), want: map[string]client.ScheduleSpec{
			KindFull: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(0), Hour: one(1), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 0, End: 0}, {Start: 3, End: 3}},
				Comment:   `sqlvault policy "silver": full backup`,
			}}, TimeZoneName: "Europe/Paris"},
			KindDifferential: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(30), Hour: one(19), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 1, End: 1}, {Start: 6, End: 6}},
				Comment:   `sqlvault policy "silver": differential backup`,
			}}, TimeZoneName: "Europe/Paris"},
			KindLog: {Intervals: []client.ScheduleIntervalSpec{{Every: 15 * time.Minute}}, TimeZoneName: "Europe/Paris"},
		}},
		{name: "full only, New York", policy: func() Policy {
			p := daily()
			p.Full.TimeZone, p.Full.TimeOfDay = "America/New_York", "23:45"
			p.Log, p.Retention.LogDays = nil, 0
			return p
		}(), want: map[string]client.ScheduleSpec{
			KindFull: {Calendars: []client.ScheduleCalendarSpec{{
				Second: one(0), Minute: one(45), Hour: one(23), DayOfMonth: everyDay, Month: everyMonth,
				DayOfWeek: []client.ScheduleRange{{Start: 0, End: 6}},
				Comment:   `sqlvault policy "gold": full backup`,
			}}, TimeZoneName: "America/New_York"},
		}},
		{name: "invalid policy: no schedules", policy: func() Policy {
			p := daily()
			p.Log.EveryMinutes = 5
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.ScheduleSpecs())
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

// TestNextMatchesSpec checks Next against the calendar specs themselves: every minute of a
// fortnight across the clock change is matched against the spec's fields in its zone, the
// way a cron reader would, and the matches must be exactly Next's runs.
func TestNextMatchesSpec(t *testing.T) {
	p := weekly()
	p.Full.Weekdays = []time.Weekday{time.Sunday, time.Wednesday}
	p.Differential.Weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Thursday, time.Friday, time.Saturday}
	specs := p.ScheduleSpecs()
	require.NotNil(t, specs)
	from, to := utc("2026-03-22T00:00:00Z"), utc("2026-04-06T00:00:00Z")
	for _, kind := range []string{KindFull, KindDifferential} {
		spec := specs[kind]
		loc, err := time.LoadLocation(spec.TimeZoneName)
		require.NoError(t, err)
		cal := spec.Calendars[0]
		in := func(rs []client.ScheduleRange, v int) bool {
			for _, r := range rs {
				if v >= r.Start && v <= r.End {
					return true
				}
			}
			return false
		}
		var brute []time.Time
		for m := from.Add(time.Minute); m.Before(to); m = m.Add(time.Minute) {
			l := m.In(loc)
			if in(cal.Hour, l.Hour()) && in(cal.Minute, l.Minute()) && in(cal.DayOfWeek, int(l.Weekday())) &&
				in(cal.DayOfMonth, l.Day()) && in(cal.Month, int(l.Month())) {
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
