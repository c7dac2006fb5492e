package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/control/planner"
)

// simulation is 120 days of a realistic schedule with retention run once a day, deleting
// what it does not keep, as the retention workflow does.
type simulation struct {
	name   string
	policy Policy
	loc    *time.Location
	start  time.Time // local midnight of day 0
	days   int
	// backups returns the backups of one local day, in time order.
	backups func(tl *timeline, day time.Time)
	// expectOwn says, independently of Retain, whether a point's own rules keep it at now.
	expectOwn func(s *simulation, all []Point, p Point, now time.Time) bool
	// logSlack bounds the days of logs kept beyond LogDays (the walk back to an anchor).
	logSlack int
	// needOnly counts the points kept only because a chain needs them, over the deep checks.
	needOnly int
}

func TestRetainSimulation(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	sims := []*simulation{
		{
			name: "daily full at 02:30 UTC, hourly logs, copy-only and on-demand fulls",
			policy: Policy{
				Name: "daily",
				Full: FullSchedule{Frequency: FrequencyDaily, TimeOfDay: "02:30", TimeZone: "UTC"},
				Log:  &LogSchedule{EveryMinutes: 60},
				Retention: Retention{
					Daily:   &Keep{Days: 7},
					Weekly:  &KeepWeekly{Weeks: 4, Weekday: time.Sunday},
					Monthly: &KeepMonthly{Months: 3},
					Yearly:  &KeepYearly{Years: 2, Month: time.January},
					LogDays: 7,
				},
			},
			loc:   time.UTC,
			start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			days:  120,
			backups: func(tl *timeline, day time.Time) {
				n := int(day.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Hours() / 24)
				for h := range 24 {
					at := day.Add(time.Duration(h) * time.Hour)
					tl.log("L"+at.Format("0102-15"), at)
					switch {
					case h == 2:
						tl.full("F"+at.Format("0102"), at.Add(30*time.Minute), false)
					case h == 12 && n%10 == 3:
						tl.full("OD"+at.Format("0102"), at.Add(5*time.Second), true).RetainUntil = ptr(at.AddDate(0, 0, 20))
					case h == 15 && n%13 == 5:
						tl.full("CO"+at.Format("0102"), at.Add(5*time.Second), true)
					}
				}
			},
			expectOwn: func(s *simulation, all []Point, p Point, now time.Time) bool {
				age := now.Sub(p.Start) // UTC: a day is 24 hours
				switch {
				case p.RetainUntil != nil:
					return now.Before(*p.RetainUntil)
				case p.Type == KindLog:
					return age < 7*24*time.Hour
				case p.CopyOnly:
					return age < 7*24*time.Hour
				case age < 7*24*time.Hour:
					return true
				}
				scheduled := func(p Point) bool { return p.Type == KindFull && !p.CopyOnly && p.RetainUntil == nil }
				firstIn := func(from, to time.Time) string {
					for _, q := range all { // all is in time order
						if scheduled(q) && !q.Start.Before(from) && q.Start.Before(to) {
							return q.ID
						}
					}
					return ""
				}
				// Walk back period by period from now's.
				sunday := time.Date(now.Year(), now.Month(), now.Day()-int(now.Weekday()), 0, 0, 0, 0, time.UTC)
				for k := range 4 {
					if firstIn(sunday.AddDate(0, 0, -7*k), sunday.AddDate(0, 0, -7*k+7)) == p.ID {
						return true
					}
				}
				for k := range 3 {
					m := time.Date(now.Year(), now.Month()-time.Month(k), 1, 0, 0, 0, 0, time.UTC)
					if firstIn(m, m.AddDate(0, 1, 0)) == p.ID {
						return true
					}
				}
				for k := range 2 {
					jan := time.Date(now.Year()-k, time.January, 1, 0, 0, 0, 0, time.UTC)
					if firstIn(jan, jan.AddDate(0, 1, 0)) == p.ID {
						return true
					}
				}
				return false
			},
			logSlack: 1,
		},
		{
			name: "weekly full on Sunday 01:30 Paris, 6-hourly differentials, hourly logs, across DST",
			policy: Policy{
				Name:         "weekly",
				Full:         FullSchedule{Frequency: FrequencyWeekly, Weekdays: []time.Weekday{time.Sunday}, TimeOfDay: "01:30", TimeZone: "Europe/Paris"},
				Differential: &DiffSchedule{Weekdays: []time.Weekday{1, 2, 3, 4, 5, 6}, TimeOfDay: "19:00"},
				Log:          &LogSchedule{EveryMinutes: 60},
				Retention: Retention{
					// Fulls are kept less long than the differentials based on them, so the
					// differentials must keep their base fulls.
					Weekly:           &KeepWeekly{Weeks: 2, Weekday: time.Sunday},
					Monthly:          &KeepMonthly{Months: 2, Week: WeekFirst, Weekday: time.Sunday},
					DifferentialDays: 10,
					LogDays:          10,
				},
			},
			loc:   paris,
			start: time.Date(2026, 1, 1, 0, 0, 0, 0, paris),
			days:  120,
			backups: func(tl *timeline, day time.Time) {
				next := day.AddDate(0, 0, 1)
				// Logs on the UTC hour (the schedule's interval), fulls and differentials at
				// local 01:30, 07:30, 13:30, 19:30 (the full only on Sunday at 01:30): between
				// logs, so the log window often starts between a log and the next full.
				for at := day; at.Before(next); at = at.Add(time.Hour) {
					tl.log("L"+at.UTC().Format("0102-15"), at)
					switch h := at.In(day.Location()).Hour(); {
					case h == 1 && at.Weekday() == time.Sunday:
						tl.full("F"+at.Format("0102"), at.Add(30*time.Minute), false)
					case h%6 == 1:
						tl.diff("D"+at.Format("0102-15"), at.Add(30*time.Minute))
					}
				}
			},
			expectOwn: func(s *simulation, all []Point, p Point, now time.Time) bool {
				local := now.In(s.loc)
				daysAgo := func(n int) time.Time { return local.AddDate(0, 0, -n) }
				switch p.Type {
				case KindLog:
					return p.Start.After(daysAgo(10))
				case KindDifferential:
					return p.Start.After(daysAgo(10))
				}
				// Every full is a weekly point: kept while its week is one of the 2 latest.
				sunday := time.Date(local.Year(), local.Month(), local.Day()-int(local.Weekday()), 0, 0, 0, 0, s.loc)
				if !p.Start.Before(sunday.AddDate(0, 0, -7)) {
					return true
				}
				// Monthly: the first full on or after the first Sunday, this month and last.
				for k := range 2 {
					m := time.Date(local.Year(), local.Month()-time.Month(k), 1, 0, 0, 0, 0, s.loc)
					first := m
					for first.Weekday() != time.Sunday {
						first = first.AddDate(0, 0, 1)
					}
					for _, q := range all {
						if q.Type == KindFull && !q.Start.Before(first) && q.Start.Before(m.AddDate(0, 1, 0)) {
							if q.ID == p.ID {
								return true
							}
							break
						}
					}
				}
				return false
			},
			logSlack: 8,
		},
	}
	for _, s := range sims {
		t.Run(s.name, func(t *testing.T) {
			require.NoError(t, s.policy.Validate())
			s.run(t)
			assert.Positive(t, s.needOnly, "the simulation should exercise chain keeping")
		})
	}
}

func (s *simulation) run(t *testing.T) {
	tl := newTimeline()
	for d := range s.days + 1 {
		s.backups(tl, time.Date(s.start.Year(), s.start.Month(), s.start.Day()+d, 0, 0, 0, 0, s.loc))
	}
	all := tl.points
	var present []Point
	next := 0
	for d := 1; d <= s.days; d++ {
		// Retention runs at a different time of day every day, so the log window starts
		// before, on and after the fulls.
		now := time.Date(s.start.Year(), s.start.Month(), s.start.Day()+d, (d*5)%24, 17+(d%3)*10, 0, 0, s.loc)
		for ; next < len(all) && all[next].Start.Before(now); next++ {
			present = append(present, all[next])
		}
		decisions := Retain(present, s.policy, now)
		require.Len(t, decisions, len(present))
		var kept []Point
		for i, dec := range decisions {
			require.Equal(t, present[i].ID, dec.PointID)
			if dec.Keep {
				kept = append(kept, present[i])
			}
		}
		s.checkDay(t, d, now, all, present, decisions, kept)
		if d%10 == 0 || d == s.days {
			s.checkDeep(t, now, present, decisions, kept)
		}
		present = kept
	}
}

// samples are the instants of the log window [now-LogDays, now) worth trying: a regular
// grid and, around every point, its start and the instant before it.
func (s *simulation) samples(now time.Time, pts []Point) []time.Time {
	from := now.In(s.loc).AddDate(0, 0, -s.policy.Retention.LogDays)
	var out []time.Time
	for t := from; t.Before(now); t = t.Add(13 * time.Minute) {
		out = append(out, t)
	}
	for _, p := range pts {
		for _, t := range []time.Time{p.Start, p.Start.Add(-time.Nanosecond)} {
			if !t.Before(from) && t.Before(now) {
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.CompactFunc(out, time.Time.Equal)
}

// checkDay: own rules as computed independently, reasons, no lost instant, bounded logs.
func (s *simulation) checkDay(t *testing.T, d int, now time.Time, all, present []Point, decisions []Decision, kept []Point) {
	for i, dec := range decisions {
		p := present[i]
		own := s.expectOwn(s, all, p, now)
		needed := len(dec.Reasons) > 0 && strings.HasPrefix(dec.Reasons[0], "needed by ")
		switch {
		case own:
			require.True(t, dec.Keep && !needed, "day %d: %s should be kept by its own rules: %v", d, p.ID, dec.Reasons)
		case dec.Keep:
			for _, r := range dec.Reasons {
				require.True(t, strings.HasPrefix(r, "needed by "), "day %d: %s kept for %q, but no own rule keeps it", d, p.ID, r)
			}
		default:
			require.Len(t, dec.Reasons, 1)
			require.True(t, strings.HasPrefix(dec.Reasons[0], "expired: "), "day %d: %s: %v", d, p.ID, dec.Reasons)
		}
	}

	// No instant of the log window that the vault could restore is lost.
	before, after := planner.Restorable(toPlanner(present)), planner.Restorable(toPlanner(kept))
	var lastLog time.Time
	for _, p := range kept {
		if p.Type == KindLog {
			lastLog = p.Start
		}
	}
	warm := d > s.policy.Retention.LogDays+8
	for _, at := range s.samples(now, present) {
		if inRanges(before, at) {
			require.True(t, inRanges(after, at), "day %d (%s): %s was restorable and no longer is", d, now, at)
		}
		// Once the history is longer than the window, all of it is restorable.
		if warm && at.Before(lastLog) {
			require.True(t, inRanges(after, at), "day %d (%s): %s in the log window is not restorable", d, now, at)
		}
	}

	// Anchoring the window costs at most logSlack days of extra logs: nothing piles up.
	logs := 0
	for _, p := range kept {
		if p.Type == KindLog {
			logs++
		}
	}
	require.LessOrEqual(t, logs, 24*(s.policy.Retention.LogDays+s.logSlack)+2, "day %d: kept logs", d)
}

// checkDeep proves the kept chains with PlanRestore, checks that every point kept only
// because something needs it is really needed, and that input order changes nothing.
func (s *simulation) checkDeep(t *testing.T, now time.Time, present []Point, decisions []Decision, kept []Point) {
	pk := toPlanner(kept)
	was := planner.Restorable(toPlanner(present))
	for _, at := range s.samples(now, present) {
		if !inRanges(was, at) {
			continue
		}
		plan, err := planner.PlanRestore(pk, planner.Target{At: at})
		require.NoError(t, err, "%s at %s", now, at)
		require.NotEmpty(t, plan.Steps)
	}
	pp := toPlanner(present)
	for _, p := range kept {
		if _, err := planner.PlanRestore(pp, planner.Target{PointID: p.ID}); err != nil {
			continue // never was restorable
		}
		_, err := planner.PlanRestore(pk, planner.Target{PointID: p.ID})
		require.NoError(t, err, "%s: kept point %s is not restorable from the kept points", now, p.ID)
	}

	samples := s.samples(now, present)
	needOnly := 0
	keptRanges := planner.Restorable(pk)
	for i, dec := range decisions {
		if !dec.Keep || !strings.HasPrefix(dec.Reasons[0], "needed by ") {
			continue
		}
		needOnly++
		x := present[i]
		without := slices.DeleteFunc(slices.Clone(kept), func(p Point) bool { return p.ID == x.ID })
		lost := false
		r := planner.Restorable(toPlanner(without))
		for _, at := range samples {
			if inRanges(keptRanges, at) && !inRanges(r, at) {
				lost = true
				break
			}
		}
		if !lost && x.Type == KindFull {
			lost = slices.ContainsFunc(kept, func(p Point) bool {
				return p.Type == KindDifferential && p.DifferentialBaseLSN == x.CheckpointLSN
			})
		}
		assert.True(t, lost, "%s: %s (%v) is kept but nothing is lost without it", now, x.ID, dec.Reasons)
	}
	s.needOnly += needOnly

	shuffled := slices.Clone(present)
	rand.New(rand.NewPCG(uint64(now.Unix()), 7)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	assert.Equal(t, decisionsByID(decisions), decisionsByID(Retain(shuffled, s.policy, now)), fmt.Sprint(now))
}
