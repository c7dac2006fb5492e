package planner

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/vault"
)

type instantCase struct {
	at   string // clock on day
	want []string
}

// runInstants plans each instant and checks both the chosen points and, independently, the
// chain rules.
func runInstants(t *testing.T, pts []Point, cases []instantCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.at, func(t *testing.T) {
			plan, err := PlanRestore(pts, Target{At: clock(tc.at)})
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(plan))
			checkChain(t, plan)
			assert.Equal(t, clock(tc.at).Format(time.RFC3339Nano), plan.RestoresTo)
		})
	}
}

func TestSimpleFullAndLogs(t *testing.T) {
	pts := newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:30").log("L2").at("00:45").log("L3").pts()
	runInstants(t, pts, []instantCase{
		{"00:00", []string{"F1", "L1"}}, // the base's instant, still rolled through L1 with STOPAT
		{"00:10", []string{"F1", "L1"}},
		{"00:14:59", []string{"F1", "L1"}},
		// A change committed at 00:15 may be in L2: T == L1.Start needs the next log.
		{"00:15", []string{"F1", "L1", "L2"}},
		{"00:44:59", []string{"F1", "L1", "L2", "L3"}},
	})
	assert.Equal(t, []Range{{clock("00:00"), clock("00:45"), "fork-0"}}, Restorable(pts))

	// Nothing holds the changes at or after 00:45 (the last log's start).
	_, err := PlanRestore(pts, Target{At: clock("00:45")})
	var nr *NotRestorableError
	require.ErrorAs(t, err, &nr)
	assert.Equal(t, clock("00:44:59"), *nr.Before)
	assert.Nil(t, nr.After)
	_, err = PlanRestore(pts, Target{At: day.Add(-time.Hour)})
	require.ErrorAs(t, err, &nr)
	assert.Nil(t, nr.Before)
	assert.Equal(t, clock("00:00"), *nr.After)
	checkConsistent(t, pts)
}

func TestStopAtOnEveryLogStep(t *testing.T) {
	pts := newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:30").log("L2").pts()
	at := clock("00:20")
	plan, err := PlanRestore(pts, Target{At: at})
	require.NoError(t, err)
	require.Len(t, plan.Steps, 3)
	assert.Nil(t, plan.Steps[0].StopAt)
	for _, s := range plan.Steps[1:] {
		require.NotNil(t, s.StopAt)
		assert.Equal(t, at, *s.StopAt)
	}
	*plan.Steps[1].StopAt = at.Add(time.Hour)
	assert.Equal(t, at, *plan.Steps[2].StopAt, "steps must not share one StopAt")
}

func TestDifferentialShortensTheChain(t *testing.T) {
	tl := newTimeline().at("00:00").full("F1")
	for i, c := range []string{"00:15", "00:30", "00:45", "01:00"} {
		tl.at(c).log([]string{"L1", "L2", "L3", "L4"}[i])
	}
	tl.at("01:05").diff("D1")
	for i, c := range []string{"01:15", "01:30", "01:45", "02:00"} {
		tl.at(c).log([]string{"L5", "L6", "L7", "L8"}[i])
	}
	tl.at("02:10").diff("D2") // the latest point: no log after it yet
	pts := tl.pts()
	runInstants(t, pts, []instantCase{
		{"01:00", []string{"F1", "L1", "L2", "L3", "L4", "L5"}},
		{"01:05", []string{"F1", "D1", "L5"}},
		{"01:40", []string{"F1", "D1", "L5", "L6", "L7"}},
		{"01:59:59", []string{"F1", "D1", "L5", "L6", "L7", "L8"}},
		{"02:10", []string{"F1", "D2"}}, // a base alone restores exactly its own instant
	})
	assert.Equal(t, []Range{{clock("00:00"), clock("02:00"), "fork-0"}, {clock("02:10"), clock("02:10"), "fork-0"}}, Restorable(pts))
	_, err := PlanRestore(pts, Target{At: clock("02:05")})
	var nr *NotRestorableError
	require.ErrorAs(t, err, &nr)
	assert.Equal(t, clock("01:59:59"), *nr.Before)
	assert.Equal(t, clock("02:10"), *nr.After)
	checkConsistent(t, pts)
}

func TestCopyOnlyFull(t *testing.T) {
	tl := newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:20").copyFull("C1").
		at("00:30").log("L2").at("00:40").diff("D1").at("00:45").log("L3").at("01:00").log("L4")
	pts := tl.pts()
	// The copy-only full did not move the base: D1 is F1's.
	assert.Equal(t, tl.point("F1").CheckpointLSN, tl.point("D1").DifferentialBaseLSN)
	runInstants(t, pts, []instantCase{
		{"00:10", []string{"F1", "L1"}},
		{"00:25", []string{"C1", "L2"}}, // a copy-only full is a valid start
		// F1+D1+L3+L4 and C1+L2+L3+L4 are both 4 steps: the newest full wins.
		{"00:50", []string{"C1", "L2", "L3", "L4"}},
	})
	checkConsistent(t, pts)

	plan, err := PlanRestore(pts, Target{PointID: "D1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"F1", "D1"}, ids(plan))

	// A differential claiming the copy-only full as its base is not usable with it.
	for i := range pts {
		if pts[i].ID == "D1" {
			pts[i].DifferentialBaseLSN = tl.point("C1").CheckpointLSN
		}
	}
	_, err = PlanRestore(pts, Target{PointID: "D1"})
	assert.ErrorIs(t, err, ErrNoChain)
	plan, err = PlanRestore(pts, Target{At: clock("00:50")})
	require.NoError(t, err)
	assert.NotContains(t, ids(plan), "D1")
	checkChain(t, plan)
}

func TestCopyOnlyFullAloneStartsNoChain(t *testing.T) {
	pts := newTimeline().at("00:00").copyFull("C1").pts()
	assert.Equal(t, []Range{{clock("00:00"), clock("00:00"), "fork-0"}}, Restorable(pts))
	plan, err := PlanRestore(pts, Target{At: clock("00:00")})
	require.NoError(t, err)
	assert.Equal(t, []string{"C1"}, ids(plan))
}

func TestTwoFullsWithInterleavedLogs(t *testing.T) {
	pts := newTimeline().at("00:00").full("F1").at("00:10").full("F2").at("00:15").log("L1").
		at("00:30").log("L2").at("00:40").full("F3").at("00:45").log("L3").at("01:00").log("L4").pts()
	runInstants(t, pts, []instantCase{
		{"00:05", []string{"F1", "L1"}},
		{"00:12", []string{"F2", "L1"}}, // F1+L1 is as short: the newer full wins
		{"00:20", []string{"F2", "L1", "L2"}},
		{"00:50", []string{"F3", "L3", "L4"}}, // not F1/F2 + L1..L4
	})
	assert.Equal(t, []Range{{clock("00:00"), clock("01:00"), "fork-0"}}, Restorable(pts))
	checkConsistent(t, pts)
}

func TestForeignFullMovesTheDifferentialBase(t *testing.T) {
	tl := newTimeline().at("00:00").full("F1")
	for q := 1; q <= 28; q++ { // a log every quarter hour until 07:00
		at := day.Add(time.Duration(q) * 15 * time.Minute)
		switch at.Format("15:04") {
		case "02:15":
			tl.at("02:00:30").diff("D0") // F1's
		case "03:15":
			tl.at("03:05").foreignFull() // another tool: the base moves away from F1
		case "06:15":
			tl.at("06:05").diff("D1") // of the foreign full
		}
		tl.atTime(at).log(fmt.Sprintf("L%02d", q))
	}
	pts := tl.pts()
	assert.NotEqual(t, tl.point("F1").CheckpointLSN, tl.point("D1").DifferentialBaseLSN)

	_, err := PlanRestore(pts, Target{PointID: "D1"})
	assert.ErrorIs(t, err, ErrNoChain)
	assert.ErrorContains(t, err, "another tool")

	plan, err := PlanRestore(pts, Target{At: clock("06:20")})
	require.NoError(t, err)
	checkChain(t, plan)
	// D1 is newer but unusable: the chain falls back to D0, the newest usable differential.
	assert.Equal(t, []string{"F1", "D0"}, ids(plan)[:2])
	assert.NotContains(t, ids(plan), "D1")
	assert.Len(t, plan.Steps, 2+18) // logs 02:15 … 06:30
	checkConsistent(t, pts)
}

func TestMissingLogBreaksTheChain(t *testing.T) {
	pts := newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:30").log("L2").
		at("00:45").lostLog().at("01:00").log("L4").at("01:15").log("L5").
		at("01:20").full("F2").at("01:30").log("L6").at("01:45").log("L7").pts()
	assert.Equal(t, []Range{{clock("00:00"), clock("00:30"), "fork-0"}, {clock("01:20"), clock("01:45"), "fork-0"}}, Restorable(pts))
	runInstants(t, pts, []instantCase{
		{"00:20", []string{"F1", "L1", "L2"}},
		{"01:25", []string{"F2", "L6"}}, // only the later full serves instants after the gap
		{"01:30", []string{"F2", "L6", "L7"}},
	})
	for _, at := range []string{"00:30", "00:40", "01:00", "01:10", "01:19:59"} {
		_, err := PlanRestore(pts, Target{At: clock(at)})
		var nr *NotRestorableError
		require.ErrorAs(t, err, &nr, at)
		assert.Equal(t, clock("00:29:59"), *nr.Before, at)
		assert.Equal(t, clock("01:20"), *nr.After, at)
	}
	_, err := PlanRestore(pts, Target{PointID: "L5"})
	assert.ErrorIs(t, err, ErrNoChain, "L5 follows the gap and precedes F2")
	plan, err := PlanRestore(pts, Target{PointID: "L7"})
	require.NoError(t, err)
	assert.Equal(t, []string{"F2", "L6", "L7"}, ids(plan))
	checkConsistent(t, pts)
}

func TestDifferentialBridgesAMissingLog(t *testing.T) {
	pts := newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:30").lostLog().
		at("00:40").diff("D1").at("00:45").log("L3").at("01:00").log("L4").pts()
	assert.Equal(t, []Range{{clock("00:00"), clock("00:15"), "fork-0"}, {clock("00:40"), clock("01:00"), "fork-0"}}, Restorable(pts))
	runInstants(t, pts, []instantCase{
		{"00:10", []string{"F1", "L1"}},
		{"00:50", []string{"F1", "D1", "L3", "L4"}},
	})
	checkConsistent(t, pts)
}

func TestCopyOnlyLogEndsAChainOnly(t *testing.T) {
	tl := newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:20").copyOnlyLog("CL").
		at("00:30").log("L2").at("00:45").log("L3")
	pts := tl.pts()
	assert.Equal(t, tl.point("L2").FirstLSN, tl.point("CL").FirstLSN)
	runInstants(t, pts, []instantCase{
		{"00:18", []string{"F1", "L1", "CL"}}, // as short as via L2, and less log to replay
		{"00:35", []string{"F1", "L1", "L2", "L3"}},
	})
	for _, tc := range []struct{ id, want []string }{
		{[]string{"CL"}, []string{"F1", "L1", "CL"}},
		{[]string{"L3"}, []string{"F1", "L1", "L2", "L3"}},
	} {
		plan, err := PlanRestore(pts, Target{PointID: tc.id[0]})
		require.NoError(t, err)
		assert.Equal(t, tc.want, ids(plan))
		checkChain(t, plan)
	}
	checkConsistent(t, pts)
}

func TestPointTargets(t *testing.T) {
	tl := newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:20").copyFull("C1").
		at("00:30").log("L2").at("00:45").log("L3").at("00:50").diff("D1").at("01:00").log("L4").
		at("01:15").log("L5").at("01:30").lostLog().at("01:45").log("L7")
	pts := tl.pts()
	for _, tc := range []struct {
		id      string
		want    []string
		wantErr error
	}{
		{"F1", []string{"F1"}, nil},
		{"C1", []string{"C1"}, nil},
		{"D1", []string{"F1", "D1"}, nil},
		{"L1", []string{"F1", "L1"}, nil},
		{"L2", []string{"C1", "L2"}, nil},             // shorter than F1, L1, L2
		{"L5", []string{"F1", "D1", "L4", "L5"}, nil}, // shorter than C1, L2 … L5
		{"L7", nil, ErrNoChain},                       // after the lost log
		{"nope", nil, ErrUnknownPoint},
	} {
		t.Run(tc.id, func(t *testing.T) {
			plan, err := PlanRestore(pts, Target{PointID: tc.id})
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(plan))
			assert.Equal(t, "lsn:"+string(tl.point(tc.id).LastLSN), plan.RestoresTo)
			assert.Equal(t, Target{PointID: tc.id}, plan.Target)
			checkChain(t, plan)
		})
	}
}

func TestInvalidRequests(t *testing.T) {
	pts := newTimeline().at("00:00").full("F1").pts()
	_, err := PlanRestore(pts, Target{})
	assert.ErrorIs(t, err, ErrInvalidTarget)
	_, err = PlanRestore(pts, Target{PointID: "F1", At: clock("00:00")})
	assert.ErrorIs(t, err, ErrInvalidTarget)
	_, err = PlanRestore(nil, Target{At: clock("00:00")})
	assert.ErrorIs(t, err, ErrNoPoints)
	assert.Empty(t, Restorable(nil))

	// A malformed point takes part in nothing, and says why when targeted.
	bad := append(pts, Point{ID: "X", Type: vault.BackupLog, FirstLSN: "12", LastLSN: "0x20", Start: clock("00:15")})
	_, err = PlanRestore(bad, Target{PointID: "X"})
	assert.ErrorIs(t, err, ErrNoChain)
	assert.ErrorContains(t, err, "not a decimal LSN")
	assert.Equal(t, Restorable(pts), Restorable(bad))
}

func TestLSNsBeyondInt64(t *testing.T) {
	// LSNs cross both int64's maximum and a change of digit count (10^19), where comparing
	// them as text or as int64 would both go wrong.
	tl := newTimeline().lsnFrom("9999999999999999800").at("00:00").full("F1")
	for i := 1; i <= 8; i++ {
		tl.atTime(day.Add(time.Duration(i) * 15 * time.Minute)).log("L" + string(rune('0'+i)))
		if i == 4 {
			tl.at("01:05").diff("D1")
		}
	}
	pts := tl.pts()
	require.Len(t, tl.point("F1").LastLSN, 19)
	require.Len(t, tl.point("L8").LastLSN, 20)
	runInstants(t, pts, []instantCase{
		{"00:20", []string{"F1", "L1", "L2"}},
		{"01:40", []string{"F1", "D1", "L5", "L6", "L7"}},
	})
	plan, err := PlanRestore(pts, Target{PointID: "L8"})
	require.NoError(t, err)
	assert.Equal(t, []string{"F1", "D1", "L5", "L6", "L7", "L8"}, ids(plan))
	assert.Equal(t, []Range{{clock("00:00"), clock("02:00"), "fork-0"}}, Restorable(pts))
	checkConsistent(t, pts)
}

func TestRecreatedDatabaseIsAnotherChain(t *testing.T) {
	// The database is dropped and created again under the same name: LSNs restart, so the
	// new incarnation's points have LSNs the old chain also used.
	tl := newTimeline().at("00:00").full("A-F").at("00:15").log("A-L1").at("00:30").log("A-L2").
		database("6f1c0b8e-0000-4000-8000-000000000002").at("01:00").full("B-F").at("01:15").log("B-L1").
		at("01:20").full("B-F2")
	pts := tl.pts()
	require.Equal(t, tl.point("A-F").CheckpointLSN, tl.point("B-F").CheckpointLSN)
	// A differential of the old incarnation whose base LSN is a full of the new one only.
	pts = append(pts, Point{ID: "A-D", Type: vault.BackupDifferential, FirstLSN: "5000", LastLSN: "5001",
		CheckpointLSN: "5000", DifferentialBaseLSN: tl.point("B-F2").CheckpointLSN,
		DatabaseGUID: tl.point("A-F").DatabaseGUID, Start: clock("01:25")})
	_, err := PlanRestore(pts, Target{PointID: "A-D"})
	assert.ErrorIs(t, err, ErrNoChain)
	plan, err := PlanRestore(pts, Target{At: clock("01:12")})
	require.NoError(t, err)
	assert.Equal(t, []string{"B-F", "B-L1"}, ids(plan))
	assert.Equal(t, []Range{{clock("00:00"), clock("00:30"), "fork-0"}, {clock("01:00"), clock("01:15"), "fork-0"},
		{clock("01:20"), clock("01:20"), "fork-0"}}, Restorable(pts))
}

func TestRestorableMerging(t *testing.T) {
	for _, tc := range []struct {
		name string
		tl   *timeline
		want []Range
	}{
		{"full alone is one instant", newTimeline().at("00:00").full("F1"),
			[]Range{{clock("00:00"), clock("00:00"), "fork-0"}}},
		{"fulls alone stay separate instants", newTimeline().at("00:00").full("F1").at("00:10").full("F2"),
			[]Range{{clock("00:00"), clock("00:00"), "fork-0"}, {clock("00:10"), clock("00:10"), "fork-0"}}},
		{"overlapping runs of two fulls merge",
			newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:20").full("F2").at("00:30").log("L2"),
			[]Range{{clock("00:00"), clock("00:30"), "fork-0"}}},
		{"touching ranges merge: F2 starts where F1's run ends",
			newTimeline().at("00:00").full("F1").at("00:20").log("L1").lostLog().full("F2").at("00:30").log("L2"),
			[]Range{{clock("00:00"), clock("00:30"), "fork-0"}}},
		{"a full alone at the end of a run stays its own instant",
			newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:20").lostLog().at("00:20").full("F2"),
			[]Range{{clock("00:00"), clock("00:15"), "fork-0"}, {clock("00:20"), clock("00:20"), "fork-0"}}},
		{"a full alone exactly at the end of a run",
			newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:15").lostLog().at("00:15").full("F2"),
			[]Range{{clock("00:00"), clock("00:15"), "fork-0"}, {clock("00:15"), clock("00:15"), "fork-0"}}},
		{"a gap stays a gap",
			newTimeline().at("00:00").full("F1").at("00:15").log("L1").at("00:30").lostLog().at("00:40").full("F2").
				at("00:45").log("L3"),
			[]Range{{clock("00:00"), clock("00:15"), "fork-0"}, {clock("00:40"), clock("00:45"), "fork-0"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pts := tc.tl.pts()
			// Whatever the input order, the same ranges.
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
			assert.Equal(t, tc.want, Restorable(pts))
			checkConsistent(t, pts)
		})
	}
}

func TestNotRestorableErrorMessage(t *testing.T) {
	b, a := clock("10:00"), clock("10:30:05")
	for _, tc := range []struct {
		e    NotRestorableError
		want string
	}{
		{NotRestorableError{Target: clock("10:15:30"), Before: &b, After: &a},
			"2026-11-26T10:15:30Z is not restorable: the nearest restorable instants are 2026-11-26T10:00:00Z (before) and 2026-11-26T10:30:05Z (after); pick one of those, or a time inside sqlvault's `restorable` ranges"},
		{NotRestorableError{Target: clock("10:15:30"), Before: &b},
			"2026-11-26T10:15:30Z is not restorable: the latest restorable instant is 2026-11-26T10:00:00Z (before) and nothing after it is restorable; pick that, or a time inside sqlvault's `restorable` ranges"},
		{NotRestorableError{Target: clock("10:15:30"), After: &a},
			"2026-11-26T10:15:30Z is not restorable: the earliest restorable instant is 2026-11-26T10:30:05Z (after) and nothing before it is restorable; pick that, or a time inside sqlvault's `restorable` ranges"},
		{NotRestorableError{Target: clock("10:15:30")},
			"2026-11-26T10:15:30Z is not restorable: no instant is, as no full backup with an unbroken chain is in the vault; take a full backup first"},
	} {
		assert.Equal(t, tc.want, tc.e.Error())
	}
	// Targets in other zones are named in UTC.
	e := NotRestorableError{Target: clock("10:15:30").In(time.FixedZone("CET", 3600))}
	assert.Contains(t, e.Error(), "2026-11-26T10:15:30Z")
}

func TestNearestBeforeKeepsSubSecondEnds(t *testing.T) {
	// A run shorter than a second: rounding down to the second would leave it.
	from := clock("00:00:10").Add(500 * time.Millisecond)
	pts := newTimeline().atTime(from).full("F1").atTime(from.Add(300 * time.Millisecond)).log("L1").pts()
	_, err := PlanRestore(pts, Target{At: clock("00:01")})
	var nr *NotRestorableError
	require.ErrorAs(t, err, &nr)
	assert.Equal(t, from.Add(300*time.Millisecond-time.Nanosecond), *nr.Before)
}

func TestDeterministicWhateverTheInputOrder(t *testing.T) {
	tl := newTimeline().at("00:00").full("F1").at("00:10").full("F2").at("00:15").log("L1").
		at("00:20").copyFull("C1").at("00:30").log("L2").at("00:40").diff("D1").at("00:45").log("L3")
	pts := tl.pts()
	want := map[string]Plan{}
	targets := []Target{{At: clock("00:12")}, {At: clock("00:25")}, {At: clock("00:41")}, {PointID: "L3"}}
	for _, tg := range targets {
		p, err := PlanRestore(pts, tg)
		require.NoError(t, err)
		want[tg.PointID+tg.At.String()] = p
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 20 {
		r.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
		for _, tg := range targets {
			p, err := PlanRestore(pts, tg)
			require.NoError(t, err)
			assert.Equal(t, want[tg.PointID+tg.At.String()], p)
		}
	}
}

// thirtyFiveDays is a retention window's worth of points: a full at midnight, differentials
// at 06:00, 12:00 and 18:00, and a log every 15 minutes at :05, :20, :35 and :50.
func thirtyFiveDays() *timeline {
	tl := newTimeline()
	for d := range 35 {
		midnight := day.AddDate(0, 0, d)
		tl.atTime(midnight).full("F" + midnight.Format("0102"))
		for q := range 96 {
			at := midnight.Add(time.Duration(q)*15*time.Minute + 5*time.Minute)
			if q%24 == 0 && q > 0 {
				tl.atTime(at.Add(-5 * time.Minute)).diff("D" + at.Format("0102T15"))
			}
			tl.atTime(at).log("L" + at.Format("0102T1504"))
		}
	}
	return tl
}

func TestThirtyFiveDaysOfLogs(t *testing.T) {
	pts := thirtyFiveDays().pts()
	require.Len(t, pts, 35+35*3+35*96)
	last := pts[len(pts)-1].Start
	assert.Equal(t, []Range{{day, last, "fork-0"}}, Restorable(pts))

	// Every 17 minutes over the whole window (so every phase of the quarter hours): a valid
	// chain from that day's full and its latest differential, never more than full +
	// differential + 25 logs.
	longest := 0
	for at := day; at.Before(last); at = at.Add(17*time.Minute + 3*time.Second) {
		plan, err := PlanRestore(pts, Target{At: at})
		require.NoError(t, err, at)
		checkChain(t, plan)
		midnight := at.Truncate(24 * time.Hour)
		assert.Equal(t, "F"+midnight.Format("0102"), plan.Steps[0].Point.ID, at)
		if h := at.Hour() / 6 * 6; h > 0 {
			assert.Equal(t, "D"+midnight.Add(time.Duration(h)*time.Hour).Format("0102T15"), plan.Steps[1].Point.ID, at)
		}
		longest = max(longest, len(plan.Steps))
	}
	assert.Equal(t, 27, longest)

	plan, err := PlanRestore(pts, Target{PointID: "L1230T2350"})
	require.NoError(t, err)
	assert.Equal(t, []string{"F1230", "D1230T18"}, ids(plan)[:2])
	assert.Len(t, plan.Steps, 2+24)
	checkChain(t, plan)
}

func BenchmarkPlan35DaysOfLogs(b *testing.B) {
	pts := thirtyFiveDays().pts()
	at := day.AddDate(0, 0, 34).Add(11*time.Hour + 52*time.Minute) // worst case: 27 steps
	b.Run("instant", func(b *testing.B) {
		for b.Loop() {
			if _, err := PlanRestore(pts, Target{At: at}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("point", func(b *testing.B) {
		for b.Loop() {
			if _, err := PlanRestore(pts, Target{PointID: "L1230T1150"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restorable", func(b *testing.B) {
		for b.Loop() {
			if len(Restorable(pts)) != 1 {
				b.Fatal("not one range")
			}
		}
	})
}
