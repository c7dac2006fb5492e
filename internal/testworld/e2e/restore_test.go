package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

var restoreSeq atomic.Int64

func (s *stack) startRestore(in protocol.RestoreInput) client.WorkflowRun {
	if in.TargetVM == "" {
		in.TargetVM = s.agentVM()
	}
	id := fmt.Sprintf("sqlvault-restore-%s-%d", s.container, restoreSeq.Add(1))
	run, err := s.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: s.controlQueue(),
		WorkflowExecutionTimeout: 10 * time.Minute}, protocol.WorkflowRestore, in)
	require.NoError(s.t, err)
	return run
}

func (s *stack) restore(in protocol.RestoreInput) (protocol.RestoreResult, error) {
	run := s.startRestore(in)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var res protocol.RestoreResult
	err := run.Get(ctx, &res)
	return res, err
}

func (s *stack) db(name string) *sqlsim.Database {
	db, ok := s.inst.Database(name)
	require.True(s.t, ok, "database %s", name)
	return db
}

// chain builds full, log, diff, log, copy-only full, log with writes between, on the
// simulator's clock, and returns the recovery points in order with instants inside them.
type chainFixture struct {
	src    *sqlsim.Database
	points []protocol.RecoveryPoint
	// inside[i] is an instant strictly inside the log that is points[i] (for log points).
	inside map[int]time.Time
}

func (s *stack) buildChain(name string) chainFixture {
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: name, DataPages: 1024})
	require.NoError(s.t, err)
	f := chainFixture{src: db, inside: map[int]time.Time{}}
	write := func(n int) {
		s.clock.Advance(time.Minute)
		_, err := db.Write(n)
		require.NoError(s.t, err)
	}
	kinds := []protocol.BackupType{protocol.Full, protocol.Log, protocol.Differential, protocol.Log, protocol.CopyOnlyFull, protocol.Log, protocol.Log}
	write(100)
	for i, k := range kinds {
		if k == protocol.Log {
			write(10)
			f.inside[i] = s.clock.Now().Add(30 * time.Second)
			write(10)
		}
		s.clock.Advance(time.Second)
		f.points = append(f.points, s.mustBackup(s.backupInput(name, k)))
		write(5)
	}
	return f
}

func TestRestoreToEveryPointAndInstantIsExact(t *testing.T) {
	t.Parallel()
	onEachPath(t, testRestoreToEveryPointAndInstantIsExact)
}

func testRestoreToEveryPointAndInstantIsExact(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	s.startAgent()
	f := s.buildChain("Src")
	s.requireOnPath(s.points(vm, "Src"), s.sqlDB, "Src")
	for i, p := range f.points {
		target := fmt.Sprintf("Src_p%d", i)
		res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Src", PointID: p.PointID, TargetDatabase: target})
		require.NoError(t, err, "restore to point %s", p.PointID)
		assert.Equal(t, "ONLINE", res.State)
		want, err := f.src.DigestAtLSN(p.LastLSN)
		require.NoError(t, err)
		assert.Equal(t, want, s.db(target).Digest(), "restore to %s (%s)", p.PointID, p.Type)
	}
	for i, at := range f.inside {
		target := fmt.Sprintf("Src_t%d", i)
		at := at
		res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Src", At: &at, TargetDatabase: target})
		require.NoError(t, err, "restore to %s", at)
		assert.Equal(t, f.src.DigestAt(at), s.db(target).Digest(), "restore to %s", at)
		assert.Equal(t, protocol.Log, protocol.BackupType(res.Steps[len(res.Steps)-1].Type))
	}
	// The differential shortens the chain to an instant after it: full, diff, log.
	at := f.inside[3]
	res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Src", At: &at, TargetDatabase: "Src_short", NoRecovery: true})
	require.NoError(t, err)
	types := []string{}
	for _, st := range res.Steps {
		types = append(types, st.Type)
	}
	assert.Equal(t, []string{"full", "differential", "log"}, types)
	assert.Equal(t, "RESTORING", res.State, "NORECOVERY leaves the database ready for more logs")
	assert.Equal(t, "RESTORING", s.db("Src_short").State())

	// An instant before the first full is refused, naming the nearest restorable instant.
	before := f.points[0].StartTime.Add(-time.Hour)
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Src", At: &before, TargetDatabase: "Nope"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrNotRestorable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), f.points[0].StartTime.UTC().Format(time.RFC3339))
	_, exists := s.inst.Database("Nope")
	assert.False(t, exists, "a refused restore changes nothing")
}

func TestRestoreOverwriteTakesTailLogFirst(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	f := s.buildChain("Live")
	// Changes after the last backup: only the tail-log backup can keep them.
	s.clock.Advance(time.Minute)
	_, err := f.src.Write(7)
	require.NoError(t, err)
	latest := f.src.Digest()
	point := f.points[3] // a log in the middle

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Live", PointID: point.PointID})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrTargetExists, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "--overwrite")
	assert.Equal(t, latest, f.src.Digest(), "a refused overwrite changes nothing")

	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Live", PointID: point.PointID, Overwrite: true})
	var res protocol.RestoreResult
	require.NoError(t, run.Get(context.Background(), &res))
	record(t, "restore-overwrite-tail-log", s.history(run.GetID(), run.GetRunID()))
	require.NotNil(t, res.TailLog, "the tail of the log was backed up first")
	assert.Equal(t, protocol.Log, res.TailLog.Type)
	want, err := f.src.DigestAtLSN(point.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Live").Digest())
	// The tail-log backup is itself a recovery point, and it holds the latest changes:
	// restoring it elsewhere gives the database as it was just before the overwrite.
	ms := s.points(vm, "Live")
	assert.Equal(t, res.TailLog.PointID, ms[len(ms)-1].PointID)
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Live", PointID: res.TailLog.PointID, TargetDatabase: "Live_before"})
	require.NoError(t, err)
	assert.Equal(t, latest, s.db("Live_before").Digest())
}

func TestRestoreAsFilesRestoresByHand(t *testing.T) {
	t.Parallel()
	onEachPath(t, testRestoreAsFilesRestoresByHand)
}

func testRestoreAsFilesRestoresByHand(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	s.startAgent()
	f := s.buildChain("Files")
	at := f.inside[5]
	dir := t.TempDir()
	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Files", At: &at, TargetDatabase: "Files_byhand", AsFilesDir: dir})
	var res protocol.RestoreResult
	require.NoError(t, run.Get(context.Background(), &res))
	s.record("restore-as-files", s.history(run.GetID(), run.GetRunID()))
	require.NotNil(t, res.Files)
	assert.Len(t, res.Files.Files, len(res.Steps))
	_, exists := s.inst.Database("Files_byhand")
	assert.False(t, exists, "as-files restores nothing by itself")
	script, err := os.ReadFile(res.Files.Script)
	require.NoError(t, err)
	assert.Contains(t, string(script), "FROM DISK")
	// Run the printed T-SQL by hand.
	_, err = s.sqlDB.Exec(string(script))
	require.NoError(t, err, string(script))
	assert.Equal(t, f.src.DigestAt(at), s.db("Files_byhand").Digest())
}

func TestVerifyRestoreChecksAndDropsTheScratchCopy(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	f := s.buildChain("Check")
	res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Check", PointID: f.points[2].PointID, Verify: true})
	require.NoError(t, err)
	require.NotNil(t, res.Verify)
	assert.True(t, res.Verify.OK, res.Verify.Message)
	assert.True(t, strings.HasPrefix(res.TargetDatabase, "Check_sqlvault_verify_"))
	_, exists := s.inst.Database(res.TargetDatabase)
	assert.False(t, exists, "the scratch database is dropped")
}

// TestAgentKilledDuringThirdLogRestore: the agent dies while SQL Server reads the third log
// of the chain; the restarted agent resumes at that step, nothing is applied twice, and the
// result is exact.
func TestAgentKilledDuringThirdLogRestore(t *testing.T) {
	t.Parallel()
	onEachPathAtOnce(t, testAgentKilledDuringThirdLogRestore)
}

func testAgentKilledDuringThirdLogRestore(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Resume", DataPages: 512})
	require.NoError(t, err)
	s.clock.Advance(time.Minute)
	_, err = db.Write(20)
	require.NoError(t, err)
	s.mustBackup(s.backupInput("Resume", protocol.Full))
	var last protocol.RecoveryPoint
	for i := 0; i < 4; i++ {
		s.clock.Advance(time.Minute)
		_, err = db.Write(300) // logs big enough to stall inside
		require.NoError(t, err)
		s.clock.Advance(time.Second)
		last = s.mustBackup(s.backupInput("Resume", protocol.Log))
	}
	s.stopAgent()

	// Streams: the full, log 1, log 2 pass; log 3 stalls mid-read until the agent dies.
	s.inst.InjectStreamFault(&sqlsim.StreamFault{Skip: 3, AfterBytes: 16 << 10, Stall: 3 * time.Minute})
	first := s.startAgentProcess("restore-agent-1")
	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Resume", PointID: last.PointID, TargetDatabase: "Resumed"})
	require.Eventually(t, func() bool {
		var p protocol.RestoreProgress
		v, err := s.tc.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), protocol.QueryProgress)
		if err != nil || v.Get(&p) != nil {
			return false
		}
		var n int
		_ = s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.dm_exec_requests WHERE command = 'RESTORE LOG'").Scan(&n)
		return p.Step == 4 && n == 1 // step 4 of 5 is the third log
	}, 2*time.Minute, 50*time.Millisecond)
	first.kill()
	s.startAgentProcess("restore-agent-2")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res protocol.RestoreResult
	require.NoError(t, run.Get(ctx, &res))
	require.Len(t, res.Steps, 5)
	want, err := db.DigestAtLSN(last.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Resumed").Digest())
	// SQL Server applied each backup set exactly once.
	s.requireEachSetRestoredOnce("Resumed", 5)
	s.requireOnPath(s.points(vm, "Resume"), s.sqlDB, "Resume")
	s.record("restore-agent-killed", s.history(run.GetID(), run.GetRunID()))
}

// requireEachSetRestoredOnce checks msdb's restore history of database: want backup sets,
// each applied by SQL Server exactly once (a resumed restore must not run a step again).
func (s *stack) requireEachSetRestoredOnce(database string, want int) {
	t := s.t
	t.Helper()
	rows, err := s.sqlDB.Query(`SELECT bs.backup_set_uuid, COUNT(*) FROM msdb.dbo.restorehistory rh
		JOIN msdb.dbo.backupset bs ON bs.backup_set_id = rh.backup_set_id
		WHERE rh.destination_database_name = @p1 GROUP BY bs.backup_set_uuid`, database)
	require.NoError(t, err)
	defer rows.Close()
	sets := 0
	for rows.Next() {
		var id []byte
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		assert.Equal(t, 1, n, "a backup set was restored more than once")
		sets++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, want, sets)
}
