package planner

import (
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/domain"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// day is the date every crafted timeline runs on.
var day = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// timeline builds a point set the way internal/sqlsim's BACKUP does, so LSNs and times stay
// consistent without being written by hand: a full or differential appends a checkpoint ck
// (FirstLSN = CheckpointLSN = ck, LastLSN = ck+1); a log appends a marker m and covers
// [last log's LastLSN, m+1); a non-copy-only full moves the differential base; the first
// non-copy-only full starts the log chain. Time only moves forward, and every move also
// advances the LSN (activity between backups).
type timeline struct {
	now      time.Time
	next     *big.Int // the next LSN the database hands out
	guid     string
	diffBase domain.LSN // checkpoint LSN of the latest non-copy-only full, "" before any
	logFrom  domain.LSN // FirstLSN of the next log backup, "" before the chain starts
	points   []Point
	// Recovery forks, as SQL Server records them: the current fork, and where it began
	// (the fork it came from, the LSN and the instant) after a restore.
	fork, prevFork string
	forkPoint      domain.LSN
	forkTime       *time.Time
	forks          int
	// live records when each fork became the live one, for oracles.
	live []forkStart
}

type forkStart struct {
	fork string
	at   time.Time
}

// liveFork is the fork the database lived on at t.
func (tl *timeline) liveFork(t time.Time) string {
	f := "fork-0"
	for _, s := range tl.live {
		if !t.Before(s.at) {
			f = s.fork
		}
	}
	return f
}

func newTimeline() *timeline {
	return &timeline{now: day, next: big.NewInt(1000), guid: "6f1c0b8e-0000-4000-8000-000000000001", fork: "fork-0"}
}

// restoredTo is an overwrite restore that recovered the database at the end of point id
// (a full, differential or log), at the current time: a new recovery fork begins at that
// point's last LSN, and the LSNs the database hands out start again from there — the old
// fork's later LSNs are reused, as in SQL Server. base is the checkpoint LSN of the full the
// restore chain started from (the differential base afterwards). knownTime false leaves the
// fork's start out of the points (msdb had no restore history).
func (tl *timeline) restoredTo(id string, knownTime bool) *timeline {
	p := tl.point(id)
	tl.forks++
	tl.prevFork, tl.forkPoint = p.Fork, p.LastLSN
	tl.fork = fmt.Sprintf("fork-%d", tl.forks)
	tl.forkTime = nil
	tl.live = append(tl.live, forkStart{tl.fork, tl.now})
	if knownTime {
		at := tl.now
		tl.forkTime = &at
	}
	tl.next, _ = new(big.Int).SetString(string(p.LastLSN), 10)
	tl.logFrom = p.LastLSN
	if p.Type == vault.BackupFull && !p.CopyOnly {
		tl.diffBase = p.CheckpointLSN
	}
	if p.Type != vault.BackupFull {
		tl.diffBase = p.DatabaseBackupLSN
	}
	return tl
}

// lsnFrom restarts LSNs at a decimal value (for LSNs beyond int64).
func (tl *timeline) lsnFrom(dec string) *timeline {
	n, ok := new(big.Int).SetString(dec, 10)
	if !ok {
		panic(dec)
	}
	tl.next = n
	return tl
}

// database switches to another incarnation of the database (dropped and created again):
// a new GUID, LSNs restart, no base, no chain.
func (tl *timeline) database(guid string) *timeline {
	tl.guid, tl.next, tl.diffBase, tl.logFrom = guid, big.NewInt(1000), "", ""
	return tl
}

// at moves the clock to a time of day ("10:15" or "10:15:30") on day.
func (tl *timeline) at(clock string) *timeline {
	layout := "15:04"
	if len(clock) > 5 {
		layout = "15:04:05"
	}
	c, err := time.Parse(layout, clock)
	if err != nil {
		panic(err)
	}
	return tl.atTime(day.Add(c.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))))
}

func (tl *timeline) atTime(t time.Time) *timeline {
	if t.Before(tl.now) {
		panic("timeline goes back")
	}
	tl.now = t
	tl.next.Add(tl.next, big.NewInt(37)) // some writes happened meanwhile
	return tl
}

func (tl *timeline) append() *big.Int {
	l := new(big.Int).Set(tl.next)
	tl.next.Add(tl.next, big.NewInt(1))
	return l
}

func (tl *timeline) add(p Point) {
	p.DatabaseGUID, p.Start = tl.guid, tl.now
	p.FirstFork, p.Fork = tl.fork, tl.fork
	if p.Type == vault.BackupLog && tl.forkPoint != "" && bigLSNOf(p.FirstLSN).Cmp(bigLSNOf(tl.forkPoint)) <= 0 {
		p.FirstFork, p.ForkPoint, p.ForkTime = tl.prevFork, tl.forkPoint, tl.forkTime
	}
	p.Finish = tl.now.Add(20 * time.Second)
	tl.points = append(tl.points, p)
}

func (tl *timeline) fullBackup(id string, copyOnly, keep bool) *timeline {
	ck := tl.append()
	p := Point{ID: id, Type: vault.BackupFull, CopyOnly: copyOnly, FirstLSN: dec(ck),
		CheckpointLSN: dec(ck), LastLSN: dec(new(big.Int).Add(ck, big.NewInt(1))),
		DatabaseBackupLSN: tl.diffBase}
	if !copyOnly {
		tl.diffBase = dec(ck)
		if tl.logFrom == "" {
			tl.logFrom = dec(ck)
		}
	}
	if keep {
		tl.add(p)
	}
	return tl
}

func (tl *timeline) full(id string) *timeline     { return tl.fullBackup(id, false, true) }
func (tl *timeline) copyFull(id string) *timeline { return tl.fullBackup(id, true, true) }

// foreignFull is a full taken by another tool: it moves the differential base but is not in
// the vault.
func (tl *timeline) foreignFull() *timeline { return tl.fullBackup("", false, false) }

func (tl *timeline) diff(id string) *timeline {
	if tl.diffBase == "" {
		panic("differential without a base")
	}
	ck := tl.append()
	tl.add(Point{ID: id, Type: vault.BackupDifferential, FirstLSN: dec(ck), CheckpointLSN: dec(ck),
		LastLSN: dec(new(big.Int).Add(ck, big.NewInt(1))), DatabaseBackupLSN: tl.diffBase,
		DifferentialBaseLSN: tl.diffBase})
	return tl
}

func (tl *timeline) logBackup(id string, copyOnly, keep bool) *timeline {
	if tl.logFrom == "" {
		panic("log without a chain")
	}
	m := tl.append()
	last := dec(new(big.Int).Add(m, big.NewInt(1)))
	p := Point{ID: id, Type: vault.BackupLog, CopyOnly: copyOnly, FirstLSN: tl.logFrom, LastLSN: last,
		CheckpointLSN: dec(m), DatabaseBackupLSN: tl.diffBase}
	if !copyOnly {
		tl.logFrom = last
	}
	if keep {
		tl.add(p)
	}
	return tl
}

func (tl *timeline) log(id string) *timeline         { return tl.logBackup(id, false, true) }
func (tl *timeline) copyOnlyLog(id string) *timeline { return tl.logBackup(id, true, true) }

// lostLog is a log backup whose point is not in the vault (taken by another tool, or
// deleted): the chain breaks there.
func (tl *timeline) lostLog() *timeline { return tl.logBackup("", false, false) }

func (tl *timeline) pts() []Point { return append([]Point(nil), tl.points...) }

func (tl *timeline) point(id string) Point {
	for _, p := range tl.points {
		if p.ID == id {
			return p
		}
	}
	panic("no point " + id)
}

// clock is an instant on day.
func clock(s string) time.Time { return newTimeline().at(s).now }

func ids(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Point.ID)
	}
	return out
}

func bigLSNOf(s domain.LSN) *big.Int {
	n, ok := new(big.Int).SetString(string(s), 10)
	if !ok {
		panic(s)
	}
	return n
}

func bigLSN(t *testing.T, s domain.LSN) *big.Int {
	n, ok := new(big.Int).SetString(string(s), 10)
	require.True(t, ok, "LSN %q", s)
	return n
}

// checkChain checks a plan against the rules with its own arithmetic (math/big, not
// vault.LSN), so a planner bug in LSN comparison cannot hide behind the same bug here.
func checkChain(t *testing.T, p Plan) {
	t.Helper()
	require.NotEmpty(t, p.Steps)
	base := p.Steps[0].Point
	require.Equal(t, vault.BackupFull, base.Type, "a chain starts with a full")
	assert.Nil(t, p.Steps[0].StopAt)
	k := 1
	if k < len(p.Steps) && p.Steps[k].Point.Type == vault.BackupDifferential {
		d := p.Steps[k].Point
		assert.False(t, base.CopyOnly, "a copy-only full is never a differential base")
		assert.Equal(t, 0, bigLSN(t, d.DifferentialBaseLSN).Cmp(bigLSN(t, base.CheckpointLSN)), "differential of another full")
		assert.Nil(t, p.Steps[k].StopAt)
		base = d
		k++
	}
	prev := base
	for i, s := range p.Steps[k:] {
		l := s.Point
		require.Equal(t, vault.BackupLog, l.Type, "after the base only logs")
		// The log must hold the LSN the data stands at on the data's recovery fork.
		onFork := l.FirstFork
		if l.ForkPoint != "" && bigLSN(t, prev.LastLSN).Cmp(bigLSN(t, l.ForkPoint)) > 0 {
			onFork = l.Fork
		}
		assert.Equal(t, prev.Fork, onFork, "log %s is on another recovery fork than %s", l.ID, prev.ID)
		if i == 0 {
			assert.True(t, bigLSN(t, l.FirstLSN).Cmp(bigLSN(t, base.LastLSN)) <= 0 &&
				bigLSN(t, base.LastLSN).Cmp(bigLSN(t, l.LastLSN)) < 0, "first log %s does not follow %s", l.ID, base.ID)
		} else {
			assert.Equal(t, 0, bigLSN(t, l.FirstLSN).Cmp(bigLSN(t, prev.LastLSN)), "log %s does not follow %s", l.ID, prev.ID)
		}
		prev = l
	}
	for _, s := range p.Steps {
		assert.Equal(t, p.Steps[0].Point.DatabaseGUID, s.Point.DatabaseGUID)
	}
	if p.Target.At.IsZero() {
		assert.Equal(t, p.Target.PointID, p.Steps[len(p.Steps)-1].Point.ID)
		for _, s := range p.Steps {
			assert.Nil(t, s.StopAt)
		}
		return
	}
	at := p.Target.At
	assert.False(t, base.Start.After(at), "base %s after the target", base.ID)
	logs := p.Steps[k:]
	if len(logs) == 0 {
		assert.True(t, base.Start.Equal(at), "a base alone only restores its own instant")
		return
	}
	for i, s := range logs {
		require.NotNil(t, s.StopAt)
		assert.True(t, s.StopAt.Equal(at))
		if i < len(logs)-1 {
			assert.False(t, s.Point.Start.After(at), "log %s after the target is not the last", s.Point.ID)
		} else {
			assert.True(t, s.Point.Start.After(at), "the last log %s must start after the target", s.Point.ID)
			if s.Point.FirstFork != s.Point.Fork {
				require.NotNil(t, s.Point.ForkTime, "log %s spans a fork of unknown start: it holds no instant", s.Point.ID)
				assert.False(t, at.Before(*s.Point.ForkTime), "log %s holds no instant before its fork began", s.Point.ID)
			}
		}
	}
}

func inside(rs []Range, t time.Time) bool {
	for _, r := range rs {
		if (r.From.Equal(r.To) && t.Equal(r.From)) || (!t.Before(r.From) && t.Before(r.To)) {
			return true
		}
	}
	return false
}

// checkConsistent samples instants from before the first point to after the last and
// checks that PlanRestore and Restorable agree: a valid chain inside the ranges, a
// NotRestorableError with restorable neighbours outside them.
func checkConsistent(t *testing.T, pts []Point) {
	t.Helper()
	ranges := Restorable(pts)
	var samples []time.Time
	for _, p := range pts {
		samples = append(samples, p.Start, p.Start.Add(-time.Nanosecond), p.Start.Add(time.Nanosecond))
	}
	for m := -30; m < 6*60; m++ {
		samples = append(samples, day.Add(time.Duration(m)*time.Minute+7*time.Second))
	}
	for _, at := range samples {
		plan, err := PlanRestore(pts, Target{At: at})
		if inside(ranges, at) {
			if assert.NoError(t, err, "at %v", at) {
				checkChain(t, plan)
			}
			continue
		}
		var nr *NotRestorableError
		if !assert.ErrorAs(t, err, &nr, "at %v", at) {
			continue
		}
		if nr.Before != nil {
			assert.True(t, nr.Before.Before(at))
			assert.True(t, inside(ranges, *nr.Before), "before %v not restorable", *nr.Before)
		}
		if nr.After != nil {
			assert.True(t, nr.After.After(at))
			assert.True(t, inside(ranges, *nr.After), "after %v not restorable", *nr.After)
		}
		assert.False(t, errors.Is(err, ErrNoChain))
	}
}

func dec(n *big.Int) domain.LSN { return domain.LSN(n.String()) }
