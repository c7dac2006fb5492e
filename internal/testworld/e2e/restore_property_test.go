package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
)

// event is one thing that happened to the source database, for the oracle. timeline says
// which timeline (recovery fork) it happened on: every overwrite restore starts a new one.
type event struct {
	at       time.Time
	kind     string // full, copy, diff, log, break, overwrite
	point    protocol.RecoveryPoint
	timeline int
}

// sample is an instant of the source's history with the content it had then, taken while
// that history was still the database's own (an overwrite restore replaces it).
type sample struct {
	at       time.Time
	want     content.Digest
	timeline int
}

// TestRestorePropertyRandomScheduleAndTargets drives the simulator with a random workload
// and a random schedule of full, differential, log and copy-only backups, chain breaks
// (recovery model switched to SIMPLE and back), overwrite restores of the source to random
// recovery points (each starts a new recovery fork: a new timeline), and restores under
// another name with and without NORECOVERY; then restores to random instants of every
// timeline and to every recovery point. Every restore that succeeds must match the content
// the source had at its target on the timeline that was live then; instants an independent
// oracle knows are restorable must succeed, and those it knows are not must be refused
// naming the nearest restorable instants. The agent's data path (URL or VDI) is drawn from
// the seed at the start and redrawn now and then between steps (the agent restarted with
// its instance on the other path), so points of either path are restored on either.
// SQLVAULT_PROPERTY_SEED=n reproduces a run, data paths included.
func TestRestorePropertyRandomScheduleAndTargets(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SQLVAULT_PROPERTY_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
		seed = n
	}
	t.Logf("seed %d (reproduce with SQLVAULT_PROPERTY_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// The data paths come from a generator of their own, so that a seed's schedule is the
	// same as before the paths were drawn.
	pathRng := rand.New(rand.NewPCG(seed^0x51ed270b27a4c3d1, seed))
	paths := []datapath.Kind{datapath.URL, datapath.VDI}

	s := newStack(t, onPath(paths[pathRng.IntN(2)]))
	t.Logf("seed %d: the agent starts on data path %s", seed, s.path)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Prop", DataPages: 512})
	require.NoError(t, err)
	var events []event
	var samples []sample
	pointDigest := map[string]content.Digest{}
	timeline := 0
	n := 0
	restoreTo := func(in protocol.RestoreInput) (protocol.RestoreResult, error, string) {
		n++
		in.Instance, in.Database = vm, "Prop"
		if in.TargetDatabase == "" {
			in.TargetDatabase = fmt.Sprintf("Prop_%d", n)
		}
		res, err := s.restore(in)
		return res, err, in.TargetDatabase
	}
	advance := func() {
		from := s.clock.Now()
		s.clock.Advance(time.Duration(10+rng.IntN(240)) * time.Second)
		if rng.IntN(4) > 0 {
			_, err := db.Write(1 + rng.IntN(40))
			require.NoError(t, err)
			s.clock.Advance(time.Duration(1+rng.IntN(30)) * time.Second)
		}
		// An instant of the stretch just lived, with its content, for the restores at the end.
		at := from.Add(time.Duration(rng.Int64N(int64(s.clock.Now().Sub(from)))))
		samples = append(samples, sample{at: at, want: db.DigestAt(at), timeline: timeline})
	}
	backup := func(typ protocol.BackupType, kind string) {
		s.clock.Advance(time.Second)
		rp, err := s.backup(s.backupInput("Prop", typ))
		if err != nil {
			// A log or differential refused after a chain break is expected; anything else is not.
			et := protocol.ErrorType(err)
			require.Contains(t, []string{protocol.ErrNoLogChain, protocol.ErrNoDifferentialBase}, et, "seed %d: %v", seed, err)
			return
		}
		d, err := db.DigestAtLSN(rp.LastLSN)
		require.NoError(t, err)
		pointDigest[rp.PointID] = d
		events = append(events, event{at: rp.StartTime, kind: kind, point: rp, timeline: timeline})
		t.Logf("seed %d: %s backup %s (checkpoint %s, database backup LSN %s)", seed, kind, rp.PointID, rp.CheckpointLSN, rp.DatabaseBackupLSN)
	}
	points := func() []event {
		var out []event
		for _, e := range events {
			if e.point.PointID != "" {
				out = append(out, e)
			}
		}
		return out
	}
	start := s.clock.Now()
	advance()
	backup(protocol.Full, "full")
	for i := 0; i < 24; i++ {
		if pathRng.IntN(5) == 0 {
			s.stopAgent()
			s.path = paths[1-slices.Index(paths, s.path)]
			s.startAgent()
			t.Logf("seed %d: step %d: the agent restarted on data path %s", seed, i, s.path)
		}
		advance()
		switch r := rng.IntN(100); {
		case r < 48:
			backup(protocol.Log, "log")
		case r < 60:
			backup(protocol.Differential, "diff")
		case r < 67:
			backup(protocol.Full, "full")
		case r < 72:
			backup(protocol.CopyOnlyFull, "copy")
		case r < 78:
			// A chain break: the log chain ends at the switch to SIMPLE.
			_, err := s.sqlDB.Exec("ALTER DATABASE [Prop] SET RECOVERY SIMPLE")
			require.NoError(t, err)
			events = append(events, event{at: s.clock.Now(), kind: "break", timeline: timeline})
			advance()
			_, err = s.sqlDB.Exec("ALTER DATABASE [Prop] SET RECOVERY FULL")
			require.NoError(t, err)
		case r < 87:
			// Restore the source over itself to a random recovery point: its tail-log is
			// taken first (a point of the old timeline), and a new timeline begins.
			ps := points()
			target := ps[rng.IntN(len(ps))].point
			t.Logf("seed %d: step %d: overwrite restore of the source to %s", seed, i, target.PointID)
			before := db.Digest()
			res, err, _ := restoreTo(protocol.RestoreInput{PointID: target.PointID, TargetDatabase: "Prop", Overwrite: true})
			if protocol.ErrorType(err) == protocol.ErrNoLogChain {
				// After a chain break with no full since, the tail of the log cannot be
				// backed up (4214): the overwrite is refused and changes nothing, until the
				// caller accepts losing the tail.
				assert.Equal(t, before, db.Digest(), "seed %d: a refused overwrite changed the source", seed)
				assert.Equal(t, "ONLINE", db.State())
				res, err, _ = restoreTo(protocol.RestoreInput{PointID: target.PointID, TargetDatabase: "Prop", Overwrite: true, SkipTailLog: true})
			}
			require.NoError(t, err, "seed %d: overwrite restore to %s", seed, target.PointID)
			assert.Equal(t, pointDigest[target.PointID], db.Digest(), "seed %d: overwrite restore to %s is not exact", seed, target.PointID)
			if res.TailLog != nil {
				pointDigest[res.TailLog.PointID] = before
				events = append(events, event{at: res.TailLog.StartTime, kind: "log", point: *res.TailLog, timeline: timeline})
			}
			timeline++
			events = append(events, event{at: s.clock.Now(), kind: "overwrite", timeline: timeline})
		case r < 93:
			// Under another name, left RESTORING: the copy waits for more logs, the source
			// is untouched.
			ps := points()
			target := ps[rng.IntN(len(ps))].point
			before := db.Digest()
			res, err, name := restoreTo(protocol.RestoreInput{PointID: target.PointID, NoRecovery: true})
			require.NoError(t, err, "seed %d", seed)
			assert.Equal(t, "RESTORING", res.State)
			assert.Equal(t, "RESTORING", s.db(name).State())
			assert.Equal(t, before, db.Digest(), "seed %d: a restore under another name changed the source", seed)
		default:
			// Under another name, recovered: exact, and the source is untouched.
			ps := points()
			target := ps[rng.IntN(len(ps))].point
			before := db.Digest()
			_, err, name := restoreTo(protocol.RestoreInput{PointID: target.PointID})
			require.NoError(t, err, "seed %d", seed)
			assert.Equal(t, pointDigest[target.PointID], s.db(name).Digest(), "seed %d: restore of %s under another name", seed, target.PointID)
			assert.Equal(t, before, db.Digest(), "seed %d: a restore under another name changed the source", seed)
		}
	}
	advance()
	backup(protocol.Log, "log")
	end := s.clock.Now()

	// Every recovery point restores to exactly its own state.
	for _, e := range points() {
		_, err, name := restoreTo(protocol.RestoreInput{PointID: e.point.PointID})
		require.NoError(t, err, "seed %d: restore to %s %s", seed, e.kind, e.point.PointID)
		assert.Equal(t, pointDigest[e.point.PointID], s.db(name).Digest(), "seed %d: point %s", seed, e.point.PointID)
	}

	// Instants of every timeline, plus the edges of the history.
	samples = append(samples, sample{at: start.Add(-time.Minute), timeline: -1}, sample{at: end.Add(time.Hour), timeline: -1})
	rng.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	if len(samples) > 18 {
		samples = samples[:18]
	}
	for _, sm := range samples {
		at := sm.at
		verdict := oracle(events, at)
		_, err, name := restoreTo(protocol.RestoreInput{At: &at})
		switch {
		case err == nil:
			assert.NotEqual(t, "no", verdict, "seed %d: %s restored although the oracle says it cannot be", seed, at)
			require.GreaterOrEqual(t, sm.timeline, 0, "seed %d: %s is outside the history and restored", seed, at)
			assert.Equal(t, sm.want, s.db(name).Digest(), "seed %d: restore to %s (timeline %d) is not exact", seed, at, sm.timeline)
		default:
			assert.NotEqual(t, "yes", verdict, "seed %d: %s refused although the oracle says it is restorable: %v", seed, at, err)
			assert.Equal(t, protocol.ErrNotRestorable, protocol.ErrorType(err), "seed %d: %v", seed, err)
			assert.Regexp(t, `restorable instant`, err.Error(), "seed %d: the refusal names the nearest restorable instants", seed)
		}
	}
}

// oracle says whether instant at is certainly restorable ("yes"), certainly not ("no"), or
// cannot tell ("maybe"), from the timelines alone.
//
// Each overwrite restore ends a timeline and begins the next; at belongs to the timeline
// live at it. Certainly yes: on that timeline the log chain is running at that instant —
// started by a full or a differential at or before it (or, on a timeline begun by an
// overwrite restore, by that restore, which continues the restored point's chain), with no
// chain break between (after a switch to SIMPLE and back only a full or a differential
// restarts it, never a copy-only full, as in SQL Server, where BACKUP LOG fails with 4214
// until then) — and a log backup of the same timeline after it with no break in between.
// Certainly no: before every full, or after the last log backup of the last timeline (its
// changes are in no backup yet).
func oracle(events []event, at time.Time) string {
	var firstFull *time.Time
	for _, e := range events {
		switch e.kind {
		case "full", "copy":
			if firstFull == nil {
				t := e.at
				firstFull = &t
			}
		}
	}
	if firstFull == nil || at.Before(*firstFull) {
		return "no"
	}
	var lastLog time.Time
	live := 0
	for _, e := range events {
		if e.kind == "log" && e.at.After(lastLog) {
			lastLog = e.at
		}
		if e.kind == "overwrite" && !e.at.After(at) {
			live = e.timeline
		}
	}
	if !at.Before(lastLog) {
		return "no"
	}
	var chainStart, lastBreak time.Time
	for _, e := range events {
		if e.timeline != live {
			continue
		}
		if e.at.After(at) {
			if e.kind == "break" || e.kind == "overwrite" {
				return "maybe"
			}
			if e.kind == "log" {
				if !chainStart.IsZero() && chainStart.After(lastBreak) {
					return "yes"
				}
				return "maybe"
			}
			continue
		}
		switch e.kind {
		case "full", "diff", "overwrite":
			chainStart = e.at
		case "break":
			lastBreak = e.at
		}
	}
	return "maybe"
}
