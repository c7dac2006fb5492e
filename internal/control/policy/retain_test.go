package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/sqlvault/sqlvault/internal/control/planner"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// utcDaily is a daily full at 02:00 UTC with hourly logs.
func utcDaily(days, logDays int) Policy {
	p := Policy{
		Name:      "utc",
		Full:      FullSchedule{Frequency: FrequencyDaily, TimeOfDay: "02:00", TimeZone: "UTC"},
		Retention: Retention{Daily: &Keep{Days: days}},
	}
	if logDays > 0 {
		p.Log, p.Retention.LogDays = &LogSchedule{EveryMinutes: 60}, logDays
	}
	return p
}

type want struct {
	keep    bool
	reasons []string
}

func TestRetain(t *testing.T) {
	day0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday
	at := func(day int, clock string) time.Time {
		c, err := time.Parse("15:04:05", clock)
		if err != nil {
			panic(err)
		}
		return day0.AddDate(0, 0, day).Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute + time.Duration(c.Second())*time.Second)
	}
	// fullsAndLogs: fulls F<day> at 02:00:05 and hourly logs L<day>-<hh> from day 0 03:00 up to until.
	fullsAndLogs := func(until time.Time) []Point {
		tl := newTimeline()
		tl.full("F0", at(0, "02:00:05"), false)
		for ts := at(0, "03:00:00"); ts.Before(until); ts = ts.Add(time.Hour) {
			day := int(ts.Sub(day0) / (24 * time.Hour))
			tl.log(fmt.Sprintf("L%d-%02d", day, ts.Hour()), ts)
			if ts.Hour() == 2 {
				tl.full(fmt.Sprintf("F%d", day), ts.Add(5*time.Second), false)
			}
		}
		return tl.points
	}
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)

	tests := []struct {
		name   string
		points func() []Point
		policy Policy
		now    time.Time
		want   map[string]want // only these points are checked
	}{
		{
			name:   "a kept log needs an otherwise expired full",
			points: func() []Point { return fullsAndLogs(at(2, "00:30:00")) },
			policy: utcDaily(1, 1),
			now:    at(2, "00:30:00"), // log window from day 1 00:30: F1 (02:00) starts too late for it
			want: map[string]want{
				"F0":     {true, []string{"needed by kept log L1-01 (start of its restore chain)"}},
				"L0-03":  {true, []string{"needed by kept log L1-01 (links it back to its base)"}},
				"L1-00":  {true, []string{"needed by kept log L1-01 (links it back to its base)"}},
				"L1-01":  {true, []string{"log (kept 1 day)"}},
				"F1":     {true, []string{"daily (kept 1 day)"}},
				"L2-00":  {true, []string{"log (kept 1 day)"}},
				"L0-02x": {}, // absent: there is no log before F0
			},
		},
		{
			name:   "the full at the window's start anchors the logs; older ones go",
			points: func() []Point { return fullsAndLogs(at(3, "04:00:00")) },
			policy: utcDaily(1, 1),
			now:    at(3, "03:30:00"),
			want: map[string]want{
				"F0":    {false, []string{"expired: full outside every retention rule (daily 1 day)"}},
				"L1-03": {false, []string{"expired: log older than 1 day"}},
				"F1":    {false, []string{"expired: full outside every retention rule (daily 1 day)"}},
				"F2":    {true, []string{"needed by kept log L2-04 (start of its restore chain)"}},
				"L2-03": {true, []string{"needed by kept log L2-04 (links it back to its base)"}},
				"L2-04": {true, []string{"log (kept 1 day)"}},
				"F3":    {true, []string{"daily (kept 1 day)"}},
			},
		},
		{
			name: "on-demand and copy-only fulls",
			points: func() []Point {
				tl := newTimeline()
				for d := range 20 {
					if d == 1 {
						tl.full("CO3", at(d, "01:00:00"), true).RetainUntil = ptr(at(40, "00:00:00"))
					}
					if d == 13 {
						tl.full("CO1", at(d, "01:00:00"), true) // Sunday 15, before the scheduled full
					}
					if d == 6 {
						tl.full("CO2", at(d, "01:00:00"), true) // Sunday 8
					}
					tl.full(fmt.Sprintf("F%d", d), at(d, "02:00:05"), false)
					if d == 1 {
						tl.full("OD1", at(d, "12:00:00"), false).RetainUntil = ptr(at(30, "00:00:00"))
					}
					if d == 13 {
						tl.full("OD2", at(d, "12:00:00"), false).RetainUntil = ptr(at(18, "00:00:00"))
					}
				}
				return tl.points
			},
			policy: func() Policy {
				p := utcDaily(7, 0)
				p.Retention.Weekly = &KeepWeekly{Weeks: 4, Weekday: time.Sunday}
				return p
			}(),
			now: at(19, "12:00:00"),
			want: map[string]want{
				"OD1": {true, []string{"on-demand (kept until 2026-04-01T00:00:00Z)"}},
				"OD2": {false, []string{"expired: on-demand retention ended 2026-03-20T00:00:00Z"}},
				"CO3": {true, []string{"on-demand (kept until 2026-04-11T00:00:00Z)"}},
				"CO1": {true, []string{"copy-only full, daily (kept 7 days)"}},
				"CO2": {false, []string{"expired: copy-only full older than 7 days (retention.daily)"}},
				// The weekly point is the scheduled full, not the copy taken an hour earlier.
				"F13": {true, []string{"daily (kept 7 days)", "weekly: first full of the week from Sunday 2026-03-15 (kept 4 weeks)"}},
				"F6":  {true, []string{"weekly: first full of the week from Sunday 2026-03-08 (kept 4 weeks)"}},
				"F0":  {true, []string{"weekly: first full of the week from Sunday 2026-03-01 (kept 4 weeks)"}},
				"F12": {false, []string{"expired: full outside every retention rule (daily 7 days, weekly 4 weeks)"}},
			},
		},
		{
			name: "kept differentials keep their base full",
			points: func() []Point {
				tl := newTimeline()
				sunday := time.Date(2026, 3, 1, 1, 0, 5, 0, paris)
				tl.full("W1", sunday, false)
				for d := 1; d <= 6; d++ {
					tl.diff(fmt.Sprintf("D%d", d), time.Date(2026, 3, 1+d, 19, 30, 5, 0, paris))
				}
				tl.full("W2", sunday.AddDate(0, 0, 7), false)
				tl.diff("D8", time.Date(2026, 3, 9, 19, 30, 5, 0, paris))
				return tl.points
			},
			policy: func() Policy {
				p := weekly()
				p.Retention = Retention{Weekly: &KeepWeekly{Weeks: 1}, DifferentialDays: 5}
				p.Log = nil
				return p
			}(),
			now: time.Date(2026, 3, 10, 12, 0, 0, 0, paris),
			want: map[string]want{
				"W1": {true, []string{"needed by kept differential D6 (its base full) and 2 more"}},
				"D3": {false, []string{"expired: differential older than 5 days"}},
				"D4": {true, []string{"differential (kept 5 days)"}},
				"D5": {true, []string{"differential (kept 5 days)"}},
				"W2": {true, []string{"weekly (kept 1 week)", "needed by kept differential D8 (its base full)"}},
			},
		},
		{
			name: "points retention cannot judge are left alone",
			points: func() []Point {
				return []Point{{ID: "X", Type: "snapshot", Start: at(0, "00:00:00")}, {ID: "Y", Type: KindLog}}
			},
			policy: utcDaily(1, 1),
			now:    at(100, "00:00:00"),
			want: map[string]want{
				"X": {true, []string{`unknown backup type "snapshot": retention leaves it alone`}},
				"Y": {true, []string{"no start time: retention cannot date it, so leaves it alone"}},
			},
		},
		{
			name:   "an invalid policy deletes nothing",
			points: func() []Point { return fullsAndLogs(at(3, "00:00:00")) },
			policy: utcDaily(1, 40),
			now:    at(30, "00:00:00"),
			want: map[string]want{
				"F0":    {true, []string{"policy is invalid, so nothing is deleted: retention.logDays: 40 exceeds the maximum of 35"}},
				"L2-23": {true, []string{"policy is invalid, so nothing is deleted: retention.logDays: 40 exceeds the maximum of 35"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts := tt.points()
			got := Retain(pts, tt.policy, tt.now)
			require.Len(t, got, len(pts))
			for i := range pts {
				assert.Equal(t, pts[i].ID, got[i].PointID, "input order")
			}
			byID := decisionsByID(got)
			for id, w := range tt.want {
				d, ok := byID[id]
				if w.reasons == nil {
					assert.False(t, ok, "%s should not exist", id)
					continue
				}
				require.True(t, ok, id)
				assert.Equal(t, w.keep, d.Keep, id)
				assert.Equal(t, w.reasons, d.Reasons, id)
			}
			// Reversing the input changes no decision.
			rev := make([]Point, len(pts))
			for i, p := range pts {
				rev[len(pts)-1-i] = p
			}
			assert.Equal(t, byID, decisionsByID(Retain(rev, tt.policy, tt.now)))
		})
	}
}

// Retention follows the domain's fork rule: a log on the fork a restore began continues a
// base on that fork only. Here a differential was taken on the new fork (on the full that
// was restored) and the first kept log covers, by LSNs alone, both the old fork's full and
// that differential. Reading LSNs only, retention took the old full (kept anyway) as the
// log's base and deleted the differential, leaving the log with no restorable chain.
func TestRetainKeepsTheBaseOnTheLogsFork(t *testing.T) {
	day0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const guid = "DB-1"
	fa := Point{ID: "FA", Type: KindFull, FirstLSN: "100", LastLSN: "200", CheckpointLSN: "150", DatabaseGUID: guid,
		FirstFork: "A", Fork: "A", Start: day0.Add(2 * time.Hour)}
	db := Point{ID: "DB", Type: KindDifferential, FirstLSN: "205", LastLSN: "210", CheckpointLSN: "207", DifferentialBaseLSN: "150",
		DatabaseGUID: guid, FirstFork: "B", Fork: "B", Start: day0.AddDate(0, 0, 1).Add(12 * time.Hour)}
	l := Point{ID: "L", Type: KindLog, FirstLSN: "190", LastLSN: "300", DatabaseGUID: guid,
		FirstFork: "B", Fork: "B", Start: day0.AddDate(0, 0, 1).Add(13 * time.Hour)}
	pts := []Point{fa, db, l}
	now := day0.AddDate(0, 0, 2).Add(6 * time.Hour) // the log window (1 day) starts before DB
	ds := decisionsByID(Retain(pts, utcDaily(7, 1), now))
	require.True(t, ds["L"].Keep, "the log is in its window")
	assert.True(t, ds["DB"].Keep, "the differential on the log's fork starts its chain: %v", ds["DB"].Reasons)
	assert.True(t, ds["FA"].Keep)

	var kept []Point
	for _, p := range pts {
		if ds[p.ID].Keep {
			kept = append(kept, p)
		}
	}
	_, err := planner.PlanRestore(toPlanner(kept), planner.Target{PointID: "L"})
	require.NoError(t, err, "the kept log restores from what retention kept")
}
