package planner

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// overwriteTimeline is the review's reproduction of a silently wrong restore: full → L1 →
// L2, writes, then a restore of L1 over the database at 00:41 (its tail-log TL taken at
// 00:40 first), writes, L3. L3 continues from L1's last LSN on the new recovery fork, so
// by LSNs alone full → L1 → L3 looks like a chain for any instant after L1 — with fewer
// steps than full → L1 → L2 → TL.
func overwriteTimeline(knownForkTime bool) *timeline {
	return newTimeline().at("00:00").full("F").at("00:15").log("L1").at("00:30").log("L2").
		at("00:40").log("TL").at("00:41").restoredTo("L1", knownForkTime).at("00:55").log("L3")
}

func TestInstantBeforeAnOverwriteRestoreStaysOnItsFork(t *testing.T) {
	tl := overwriteTimeline(true)
	pts := tl.pts()
	l3 := tl.point("L3")
	require.Equal(t, "fork-0", l3.FirstFork)
	require.Equal(t, "fork-1", l3.Fork)
	require.Equal(t, tl.point("L1").LastLSN, l3.FirstLSN, "L3 continues from L1 by LSN")

	runInstants(t, pts, []instantCase{
		{"00:20", []string{"F", "L1", "L2"}},
		// The defect: this instant was planned as F → L1 → L3 and restored L1's content.
		{"00:35", []string{"F", "L1", "L2", "TL"}},
		{"00:39:59", []string{"F", "L1", "L2", "TL"}},
		// After the restore recovered, the live timeline is the new fork.
		{"00:41", []string{"F", "L1", "L3"}},
		{"00:54", []string{"F", "L1", "L3"}},
	})

	// Between the tail-log and the restore the database was being restored: no fork holds it.
	_, err := PlanRestore(pts, Target{At: clock("00:40:30")})
	var nr *NotRestorableError
	require.ErrorAs(t, err, &nr)
	require.NotNil(t, nr.Before)
	require.NotNil(t, nr.After)
	assert.True(t, nr.After.Equal(clock("00:41")))

	// Each fork's ranges separately.
	assert.Equal(t, []Range{{clock("00:00"), clock("00:40"), "fork-0"}, {clock("00:41"), clock("00:55"), "fork-1"}}, Restorable(pts))

	// Points restore along their own fork.
	for id, want := range map[string][]string{"L3": {"F", "L1", "L3"}, "TL": {"F", "L1", "L2", "TL"}, "L2": {"F", "L1", "L2"}} {
		plan, err := PlanRestore(pts, Target{PointID: id})
		require.NoError(t, err, id)
		assert.Equal(t, want, ids(plan), id)
		checkChain(t, plan)
	}
	checkConsistent(t, pts)
}

func TestForkOfUnknownStartHoldsNoInstant(t *testing.T) {
	pts := overwriteTimeline(false).pts()
	plan, err := PlanRestore(pts, Target{At: clock("00:35")})
	require.NoError(t, err)
	assert.Equal(t, []string{"F", "L1", "L2", "TL"}, ids(plan))
	// Without the fork's start, L3 cannot say which instants after L1 it holds: refused,
	// never guessed.
	_, err = PlanRestore(pts, Target{At: clock("00:45")})
	var nr *NotRestorableError
	require.ErrorAs(t, err, &nr)
	plan, err = PlanRestore(pts, Target{PointID: "L3"})
	require.NoError(t, err, "the point itself stays restorable")
	assert.Equal(t, []string{"F", "L1", "L3"}, ids(plan))
	assert.Equal(t, []Range{{clock("00:00"), clock("00:40"), "fork-0"}}, Restorable(pts))
	checkConsistent(t, pts)
}

func TestBasesTakenOnTheNewFork(t *testing.T) {
	// A differential (of the old fork's full) and a full taken after the restore: both are
	// on the new fork, past its fork point, and continue with L3, which spans the fork point.
	tl := overwriteTimeline(true)
	tl.at("00:58").diff("D").at("01:00").full("F2").at("01:05").log("L4")
	pts := tl.pts()
	runInstants(t, pts, []instantCase{
		{"00:35", []string{"F", "L1", "L2", "TL"}},
		{"00:56", []string{"F", "L1", "L3", "L4"}},
		{"00:59", []string{"F", "D", "L4"}},
		{"01:02", []string{"F2", "L4"}},
	})
	checkConsistent(t, pts)
}

func TestTwoRestoresInARowLoseTheForkBetween(t *testing.T) {
	// Restored to L1 at 00:41, used, restored to L1 again at 00:50 without a log backup in
	// between: the first new fork's changes are in no backup, and nothing claims them.
	tl := newTimeline().at("00:00").full("F").at("00:15").log("L1").at("00:30").log("L2").
		at("00:40").log("TL").at("00:41").restoredTo("L1", true).
		at("00:50").restoredTo("L1", true).at("01:00").log("L5")
	pts := tl.pts()
	for _, at := range []string{"00:42", "00:49"} {
		_, err := PlanRestore(pts, Target{At: clock(at)})
		var nr *NotRestorableError
		require.ErrorAs(t, err, &nr, at)
	}
	runInstants(t, pts, []instantCase{{"00:52", []string{"F", "L1", "L5"}}, {"00:35", []string{"F", "L1", "L2", "TL"}}})
	checkConsistent(t, pts)
}

func TestLogOfAnotherForkIsNeverChained(t *testing.T) {
	// L2 and L3 both start where L1 ended; L2 is on the old fork. After F → L1 → L3 (new
	// fork), L2's successor TL must not be reachable from L3, nor L3 from L2.
	pts := overwriteTimeline(true).pts()
	byID := map[string]*Point{}
	for i := range pts {
		byID[pts[i].ID] = &pts[i]
	}
	g := buildGroups(pts)[0]
	idx := func(id string) int {
		for i, p := range g.pts {
			if p.ID == id {
				return i
			}
		}
		t.Fatalf("no %s", id)
		return -1
	}
	assert.True(t, g.follows(idx("L1"), idx("L2")))
	assert.True(t, g.follows(idx("L1"), idx("L3")))
	assert.True(t, g.follows(idx("L2"), idx("TL")))
	assert.False(t, byID["L3"].OnFork("999999", "fork-0"), "past its fork point L3 is on the new fork")
	_ = time.Second
}

// TestRandomTimelinesWithRestores plans random instants over random timelines with
// overwrite restores to random points, and checks every plan against the timeline itself:
// the point that holds the instant is on the fork that was live then, and every step
// continues the fork of the one before.
func TestRandomTimelinesWithRestores(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		tl := newTimeline().at("00:00").full("P0")
		n := 0
		id := func() string { n++; return fmt.Sprintf("P%d", n) }
		for range 30 {
			tl.atTime(tl.now.Add(time.Duration(1+rng.IntN(9)) * time.Minute))
			switch r := rng.IntN(100); {
			case r < 55:
				tl.log(id())
			case r < 65:
				tl.diff(id())
			case r < 72:
				tl.full(id())
			default:
				pts := tl.pts()
				target := pts[rng.IntN(len(pts))]
				if _, err := PlanRestore(pts, Target{PointID: target.ID}); err == nil {
					tl.restoredTo(target.ID, rng.IntN(5) > 0)
				}
			}
		}
		tl.atTime(tl.now.Add(time.Minute)).log(id())
		pts := tl.pts()
		end := tl.now
		for k := 0; k < 300; k++ {
			at := day.Add(time.Duration(rng.Int64N(int64(end.Sub(day)))))
			plan, err := PlanRestore(pts, Target{At: at})
			if err != nil {
				var nr *NotRestorableError
				require.ErrorAs(t, err, &nr, "seed %d at %v", seed, at)
				continue
			}
			checkChain(t, plan)
			last := plan.Steps[len(plan.Steps)-1].Point
			require.Equal(t, tl.liveFork(at), last.Fork, "seed %d: %v planned on another timeline: %v", seed, at, ids(plan))
		}
		if t.Failed() {
			return
		}
	}
}
