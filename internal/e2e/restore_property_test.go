package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// event is one thing that happened to the source database, for the oracle.
type event struct {
	at    time.Time
	kind  string // full, copy, diff, log, break
	point protocol.RecoveryPoint
}

// TestRestorePropertyRandomScheduleAndTargets drives the simulator with a random workload
// and a random schedule of full, differential, log and copy-only backups with chain breaks
// (recovery model switched to SIMPLE and back), then restores to random instants and to
// every recovery point. Every restore that succeeds must match the simulator's digest as of
// its target exactly; instants an independent oracle knows are restorable must succeed, and
// those it knows are not must be refused naming the nearest restorable instants.
// SQLVAULT_PROPERTY_SEED=n reproduces a run.
func TestRestorePropertyRandomScheduleAndTargets(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SQLVAULT_PROPERTY_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
		seed = n
	}
	t.Logf("seed %d (reproduce with SQLVAULT_PROPERTY_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	s := newStack(t)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Prop", DataPages: 512})
	require.NoError(t, err)
	var events []event
	advance := func() {
		s.clock.Advance(time.Duration(10+rng.IntN(240)) * time.Second)
		if rng.IntN(4) > 0 {
			_, err := db.Write(1 + rng.IntN(40))
			require.NoError(t, err)
			s.clock.Advance(time.Duration(1+rng.IntN(30)) * time.Second)
		}
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
		events = append(events, event{at: rp.StartTime, kind: kind, point: rp})
	}
	start := s.clock.Now()
	advance()
	backup(protocol.Full, "full")
	for i := 0; i < 22; i++ {
		advance()
		switch r := rng.IntN(100); {
		case r < 55:
			backup(protocol.Log, "log")
		case r < 70:
			backup(protocol.Differential, "diff")
		case r < 78:
			backup(protocol.Full, "full")
		case r < 85:
			backup(protocol.CopyOnlyFull, "copy")
		case r < 92:
			// A chain break: the log chain ends at the switch to SIMPLE.
			_, err := s.sqlDB.Exec("ALTER DATABASE [Prop] SET RECOVERY SIMPLE")
			require.NoError(t, err)
			events = append(events, event{at: s.clock.Now(), kind: "break"})
			advance()
			_, err = s.sqlDB.Exec("ALTER DATABASE [Prop] SET RECOVERY FULL")
			require.NoError(t, err)
		default:
			// Writes only.
		}
	}
	advance()
	backup(protocol.Log, "log")
	end := s.clock.Now()

	n := 0
	restoreTo := func(in protocol.RestoreInput) (protocol.RestoreResult, error, string) {
		n++
		in.Instance, in.Database, in.TargetDatabase = vm, "Prop", fmt.Sprintf("Prop_%d", n)
		res, err := s.restore(in)
		return res, err, in.TargetDatabase
	}

	// Every recovery point restores to exactly its own state.
	for _, e := range events {
		if e.kind == "break" {
			continue
		}
		_, err, name := restoreTo(protocol.RestoreInput{PointID: e.point.PointID})
		require.NoError(t, err, "seed %d: restore to %s %s", seed, e.kind, e.point.PointID)
		want, derr := db.DigestAtLSN(e.point.LastLSN)
		require.NoError(t, derr)
		assert.Equal(t, want, s.db(name).Digest(), "seed %d: point %s", seed, e.point.PointID)
	}

	// Random instants, plus the edges of the timeline.
	instants := []time.Time{start.Add(-time.Minute), end.Add(time.Hour)}
	for i := 0; i < 14; i++ {
		instants = append(instants, start.Add(time.Duration(rng.Int64N(int64(end.Sub(start))))))
	}
	for _, at := range instants {
		at := at
		verdict := oracle(events, at)
		_, err, name := restoreTo(protocol.RestoreInput{At: &at})
		switch {
		case err == nil:
			assert.NotEqual(t, "no", verdict, "seed %d: %s restored although the oracle says it cannot be", seed, at)
			assert.Equal(t, db.DigestAt(at), s.db(name).Digest(), "seed %d: restore to %s is not exact", seed, at)
		default:
			assert.NotEqual(t, "yes", verdict, "seed %d: %s refused although the oracle says it is restorable: %v", seed, at, err)
			assert.Equal(t, protocol.ErrNotRestorable, protocol.ErrorType(err), "seed %d: %v", seed, err)
			assert.Regexp(t, `restorable instant`, err.Error(), "seed %d: the refusal names the nearest restorable instants", seed)
		}
	}
}

// oracle says whether instant at is certainly restorable ("yes"), certainly not ("no"), or
// cannot tell ("maybe"), from the timeline alone. Certainly yes: the log chain is running at
// that instant — started by a full or a differential at or before it, with no chain break
// between (the first full starts it; after a switch to SIMPLE and back only a full or a
// differential restarts it, never a copy-only full, as in SQL Server, where BACKUP LOG fails
// with 4214 until then) — and a log backup after it with no break in between. Certainly no:
// before every full, or after the last log backup (its changes are in no backup yet).
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
	for _, e := range events {
		if e.kind == "log" && e.at.After(lastLog) {
			lastLog = e.at
		}
	}
	if !at.Before(lastLog) {
		return "no"
	}
	var chainStart, lastBreak time.Time
	for _, e := range events {
		if e.at.After(at) {
			if e.kind == "break" {
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
		case "full", "diff":
			chainStart = e.at
		case "break":
			lastBreak = e.at
		}
	}
	return "maybe"
}
