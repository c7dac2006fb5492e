package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

func TestValidateDrill(t *testing.T) {
	weeklyNewest := func() *DrillSpec {
		return &DrillSpec{Every: protocol.DrillEveryWeekly, Pick: protocol.DrillPickNewest, MaxPerInstance: 2}
	}
	tests := []struct {
		name   string
		base   func() Policy
		drill  func() *DrillSpec
		errors []string
	}{
		{name: "weekly newest", base: daily, drill: weeklyNewest},
		{name: "daily random instant on another instance", base: weekly, drill: func() *DrillSpec {
			return &DrillSpec{Every: protocol.DrillEveryDaily, Pick: protocol.DrillPickRandomInstant, RandomInstantDays: 7,
				Instance: `DRILLVM\SCRATCH`, VM: "DRILLVM", MaxPerInstance: 4}
		}},
		{name: "unknown every and pick, no bound", base: daily, drill: func() *DrillSpec {
			return &DrillSpec{Every: "monthly", Pick: "oldest"}
		}, errors: []string{
			`drill.every: "monthly" is not a drill frequency; use "daily" or "weekly"`,
			`drill.pick: "oldest" is not a drill pick; use "newest" or "randomInstant"`,
			`drill.maxPerInstance: 0 is out of range; give 1 to 16 drills at once per instance`,
		}},
		{name: "random instant beyond log retention", base: daily, drill: func() *DrillSpec {
			d := weeklyNewest()
			d.Pick, d.RandomInstantDays = protocol.DrillPickRandomInstant, 20
			return d
		}, errors: []string{
			`drill.randomInstantDays: 20 reaches beyond retention.logDays (15), where instants are no longer restorable; give at most 15`,
		}},
		{name: "random instant without days", base: daily, drill: func() *DrillSpec {
			d := weeklyNewest()
			d.Pick = protocol.DrillPickRandomInstant
			return d
		}, errors: []string{`drill.randomInstantDays: 0 is out of range; give 1 to 35 days`}},
		{name: "random instant without logs", base: func() Policy {
			p := daily()
			p.Log, p.Retention.LogDays = nil, 0
			return p
		}, drill: func() *DrillSpec {
			d := weeklyNewest()
			d.Pick, d.RandomInstantDays = protocol.DrillPickRandomInstant, 3
			return d
		}, errors: []string{
			`drill.pick: "randomInstant" needs a log schedule (without logs only the points themselves are restorable); use "newest"`,
		}},
		{name: "days with newest, vm without instance, too many at once", base: daily, drill: func() *DrillSpec {
			d := weeklyNewest()
			d.RandomInstantDays, d.VM, d.MaxPerInstance = 3, "DRILLVM", 17
			return d
		}, errors: []string{
			`drill.randomInstantDays: only with pick "randomInstant"; remove it or change the pick`,
			`drill.maxPerInstance: 17 is out of range; give 1 to 16 drills at once per instance`,
			`drill.vm: only with drill.instance (the item's own VM restores when no instance is given)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.base()
			p.Drill = tc.drill()
			err := p.Validate()
			if len(tc.errors) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.errors, strings.Split(err.Error(), "\n"))
		})
	}
}

func TestDrillPeriod(t *testing.T) {
	assert.Equal(t, "24h0m0s", DrillSpec{Every: protocol.DrillEveryDaily}.Period().String())
	assert.Equal(t, "168h0m0s", DrillSpec{Every: protocol.DrillEveryWeekly}.Period().String())
	assert.Zero(t, DrillSpec{Every: "hourly"}.Period())
}

func TestDrillDueAt(t *testing.T) {
	d := DrillSpec{Every: protocol.DrillEveryWeekly, Pick: protocol.DrillPickNewest, MaxPerInstance: 1}
	week := d.Period()
	slot := DrillSlot("i1", week)
	require.Less(t, slot, week)
	periodStart := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) // a Monday: weeks start on Mondays, 00:00 UTC
	require.Equal(t, periodStart, periodStart.Truncate(week))
	due := periodStart.Add(slot)

	at, ok := DrillDueAt("i1", d, time.Time{}, due)
	assert.True(t, ok, "never drilled: due at its slot")
	assert.Equal(t, due, at)
	_, ok = DrillDueAt("i1", d, due.Add(time.Minute), due.Add(time.Hour))
	assert.False(t, ok, "drilled since the slot")
	at, ok = DrillDueAt("i1", d, due.Add(-week+time.Minute), due.Add(-time.Second))
	assert.False(t, ok, "drilled after last week's slot, this week's not reached")
	at, ok = DrillDueAt("i1", d, due.Add(-week-time.Minute), due.Add(-time.Second))
	assert.True(t, ok, "last week's slot missed: due now")
	assert.Equal(t, due.Add(-week), at)
}

// 2,000 items on 4 instances: drills spread over the week, and at no instant does the planner
// run more than maxPerInstance drills on one instance, even when every drill takes a while.
func TestPlanDrillsBoundsEachInstanceOverAWeek(t *testing.T) {
	const items, maxPer = 2000, 2
	d := DrillSpec{Every: protocol.DrillEveryWeekly, Pick: protocol.DrillPickNewest, MaxPerInstance: maxPer}
	cands := make([]DrillCandidate, items)
	for i := range cands {
		cands[i] = DrillCandidate{ItemID: fmt.Sprintf("i%024x", i), Target: fmt.Sprintf("SQLVM%d", i%4), Spec: d}
	}
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for i := range cands {
		cands[i].Last = start.Add(-time.Second) // every item was drilled last week
	}
	type run struct {
		target string
		end    time.Time
	}
	var runs []run
	drilled := map[string]int{}
	const tick, drillTakes = 5 * time.Minute, 40 * time.Minute
	for now := start; now.Before(start.Add(d.Period())); now = now.Add(tick) {
		running := map[string]int{}
		kept := runs[:0]
		for _, r := range runs {
			if r.end.After(now) {
				running[r.target]++
				kept = append(kept, r)
			}
		}
		runs = kept
		for _, c := range PlanDrills(cands, running, now) {
			running[c.Target]++
			require.LessOrEqual(t, running[c.Target], maxPer, "%s at %s", c.Target, now)
			runs = append(runs, run{c.Target, now.Add(drillTakes)})
			drilled[c.ItemID]++
			for i := range cands {
				if cands[i].ItemID == c.ItemID {
					cands[i].Last = now
				}
			}
		}
	}
	// 500 items per instance at 2 × 40 minutes: capacity 2 × 7 × 36 = 504 a week.
	assert.Greater(t, len(drilled), items*95/100, "almost every item drilled within its week")
	for id, n := range drilled {
		assert.Equal(t, 1, n, "%s drilled once a week", id)
	}
}

func TestPlanDrillsIsOrderIndependent(t *testing.T) {
	d := DrillSpec{Every: protocol.DrillEveryDaily, Pick: protocol.DrillPickNewest, MaxPerInstance: 1}
	a := []DrillCandidate{{ItemID: "ia", Target: "X", Spec: d}, {ItemID: "ib", Target: "x", Spec: d}, {ItemID: "ic", Target: "Y", Spec: d}}
	b := []DrillCandidate{a[2], a[1], a[0]}
	now := time.Date(2026, 12, 6, 23, 59, 0, 0, time.UTC)
	got := PlanDrills(a, nil, now)
	assert.Equal(t, got, PlanDrills(b, nil, now))
	assert.Len(t, got, 2, "one on X (case-insensitive), one on Y")
	assert.Empty(t, PlanDrills(a, map[string]int{"x": 1, "Y": 1}, now), "both instances busy")
}
