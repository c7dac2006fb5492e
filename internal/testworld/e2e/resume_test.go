package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// TestAgentKilledAfterStopAtStepApplied: SQL Server completes the last step of a restore
// to an instant (RESTORE LOG … WITH STOPAT, NORECOVERY), and the agent dies before the
// reply reaches it. The restarted agent decides from the database's state
// (sys.master_files.redo_start_lsn and msdb's restorehistory) that the step is applied and
// does not run it again; no error number decides it. The result is exact, and every
// backup set was restored once.
func TestAgentKilledAfterStopAtStepApplied(t *testing.T) {
	t.Parallel()
	onEachPathAtOnce(t, testAgentKilledAfterStopAtStepApplied)
}

func testAgentKilledAfterStopAtStepApplied(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Pit", DataPages: 512})
	require.NoError(t, err)
	s.clock.Advance(time.Minute)
	_, err = db.Write(20)
	require.NoError(t, err)
	s.mustBackup(s.backupInput("Pit", protocol.Full))
	var at time.Time
	for i := 0; i < 2; i++ {
		s.clock.Advance(time.Minute)
		_, err = db.Write(30)
		require.NoError(t, err)
		if i == 1 {
			at = s.clock.Now().Add(30 * time.Second)
		}
		s.clock.Advance(time.Minute)
		_, err = db.Write(30)
		require.NoError(t, err)
		s.clock.Advance(time.Second)
		s.mustBackup(s.backupInput("Pit", protocol.Log))
	}
	s.stopAgent()

	// Every log step carries the STOPAT (SQL Server's advice: give the point early in the
	// sequence); the first log ends before the instant and applies whole, the second stops
	// inside: hold the reply of the second.
	var stopAtLogs atomic.Int32
	stall := &sqlsim.ReplyStall{Stall: 3 * time.Minute, Match: func(q string) bool {
		q = strings.ToUpper(q)
		return strings.Contains(q, "RESTORE LOG") && strings.Contains(q, "STOPAT") && stopAtLogs.Add(1) == 2
	}}
	s.inst.InjectReplyStall(stall)
	first := s.startAgentProcess("pit-agent-1")
	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Pit", At: &at, TargetDatabase: "PitResumed"})
	select {
	case <-stall.Reached():
	case <-time.After(3 * time.Minute):
		t.Fatal("the STOPAT step never completed")
	}
	first.kill()
	s.startAgentProcess("pit-agent-2")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res protocol.RestoreResult
	require.NoError(t, run.Get(ctx, &res))
	require.Len(t, res.Steps, 3, "full, log 1, log 2 up to the instant")
	require.NotNil(t, res.Steps[2].StopAt)
	require.EqualValues(t, 2, stopAtLogs.Load(), "the held reply was the second log's")
	assert.Equal(t, "ONLINE", res.State)
	assert.Equal(t, db.DigestAt(at), s.db("PitResumed").Digest())
	// SQL Server applied each backup set exactly once: the STOPAT log was not run again.
	s.requireEachSetRestoredOnce("PitResumed", 3)
	s.requireOnPath(s.points(vm, "Pit"), s.sqlDB, "Pit")
}
