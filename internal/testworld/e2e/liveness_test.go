package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// TestNoAgentFailsWithinSeconds (issue 11 item 11): a backup of an instance on a VM without
// an agent (`backup --instance NOPE`) and a restore to the README's other instance
// (`--to-instance 'SQLVM2\INST2'`) fail in seconds with AgentUnavailable naming the VM,
// instead of waiting half an hour on a task queue nobody polls.
func TestNoAgentFailsWithinSeconds(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()

	start := time.Now()
	run := s.start(protocol.BackupInput{Instance: "NOPE", Database: "Sales", Type: protocol.Full})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run.Get(ctx, nil)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), `"NOPE"`)
	assert.Contains(t, err.Error(), "never been seen")
	assert.Less(t, time.Since(start), 20*time.Second)
	record(t, "backup-agent-unavailable", s.history(run.GetID(), run.GetRunID()))

	start = time.Now()
	other := "SQLVM2-" + s.container
	rrun := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Sales", PointID: "20261126T080000Z-full-0123456789",
		TargetInstance: `SQLVM2\INST2`, TargetVM: other, TargetDatabase: "Sales"})
	err = rrun.Get(ctx, nil)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), other)
	assert.Less(t, time.Since(start), 20*time.Second)
}

// TestKnownAgentBrieflyDownGetsItsGrace: an agent that was polling a moment ago is waited
// for: the backup started while it is down completes once it is back.
func TestKnownAgentBrieflyDownGetsItsGrace(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Blip", DataPages: 64})
	require.NoError(t, err)
	s.mustBackup(s.backupInput("Blip", protocol.Full))
	s.stopAgent()

	run := s.start(s.backupInput("Blip", protocol.Full))
	time.Sleep(5 * time.Second)
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), run.GetID(), run.GetRunID())
	require.NoError(t, err)
	assert.Equal(t, "Running", d.GetWorkflowExecutionInfo().GetStatus().String(), "the backup waits for the known agent")
	s.startAgent()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res protocol.BackupResult
	require.NoError(t, run.Get(ctx, &res))
	assert.NotEmpty(t, res.RecoveryPoint.PointID)
	record(t, "backup-agent-briefly-down", s.history(run.GetID(), run.GetRunID()))
}

// scratchOf returns the verify-restore scratch databases of db on the stack's instance.
func (s *stack) scratchOf(db string) []*sqlsim.Database {
	var out []*sqlsim.Database
	for _, d := range s.inst.Databases() {
		if strings.HasPrefix(d.Name(), db+"_sqlvault_verify_") {
			out = append(out, d)
		}
	}
	return out
}

// TestVerifyRestoreCancelledMidChainDropsScratch (issue 11 item 10): a verify-restore
// cancelled while SQL Server reads the second log of its chain (a stream stalled by a fault)
// leaves no scratch database behind.
func TestVerifyRestoreCancelledMidChainDropsScratch(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Scratch", DataPages: 256})
	require.NoError(t, err)
	s.clock.Advance(time.Minute)
	_, err = db.Write(20)
	require.NoError(t, err)
	s.mustBackup(s.backupInput("Scratch", protocol.Full))
	var last protocol.RecoveryPoint
	for i := 0; i < 3; i++ {
		s.clock.Advance(time.Minute)
		_, err = db.Write(300)
		require.NoError(t, err)
		s.clock.Advance(time.Second)
		last = s.mustBackup(s.backupInput("Scratch", protocol.Log))
	}
	// The full and the first log pass; the second log stalls mid-read.
	s.inst.InjectStreamFault(&sqlsim.StreamFault{Skip: 2, AfterBytes: 16 << 10, Stall: 5 * time.Minute})
	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Scratch", PointID: last.PointID, Verify: true})
	require.Eventually(t, func() bool {
		var n int
		_ = s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.dm_exec_requests WHERE command = 'RESTORE LOG'").Scan(&n)
		return n == 1 && len(s.scratchOf("Scratch")) == 1
	}, 2*time.Minute, 50*time.Millisecond)
	assert.Equal(t, "RESTORING", s.scratchOf("Scratch")[0].State())

	require.NoError(t, s.tc.CancelWorkflow(context.Background(), run.GetID(), run.GetRunID()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = run.Get(ctx, nil)
	require.Error(t, err)
	assert.Empty(t, s.scratchOf("Scratch"), "the scratch database is dropped when the run ends")
	record(t, "restore-verify-cancelled", s.history(run.GetID(), run.GetRunID()))
}
