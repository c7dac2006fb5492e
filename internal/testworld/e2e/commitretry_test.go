package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"

	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/workflows"
)

// lostResultStore is the vault as the control worker sees it when a write reaches the
// storage account but its answer never comes back: the worker died right after the write,
// or the connection dropped before the response. The write is done and the call fails, so
// Temporal runs the activity again with the same input against a vault that already holds
// what the first attempt wrote — exactly what the retry after a killed worker sees. (A
// real kill adds only the wait for StartToCloseTimeout, 10 minutes for the commit, before
// that retry; the agent-kill test covers killing a process.)
type lostResultStore struct {
	vault.Store
	clock *sqlsim.ManualClock
	mu    sync.Mutex
	armed func(blob string) bool // which writes lose their answer (once each)
	lost  []string
}

func (l *lostResultStore) arm(match func(blob string) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = match
}

func (l *lostResultStore) Put(ctx context.Context, blob string, data []byte, o vault.PutOptions) error {
	err := l.Store.Put(ctx, blob, data, o)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || l.armed == nil || !l.armed(blob) {
		return err
	}
	for _, b := range l.lost {
		if b == blob {
			return nil
		}
	}
	l.lost = append(l.lost, blob)
	// The retry runs later: the control worker's clock has moved on.
	l.clock.Advance(3 * time.Second)
	return fmt.Errorf("%w: connection reset after the write of %s (injected)", vault.ErrUnavailable, blob)
}

func (l *lostResultStore) lostWrites() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lost...)
}

// startControlLosingResults runs the control worker over a vault whose writes can lose
// their answers.
func (s *stack) startControlLosingResults() *lostResultStore {
	ls := &lostResultStore{Store: s.repo.Store(), clock: s.clock}
	w := worker.New(s.tc, s.controlQueue(), worker.Options{})
	workflows.Register(w)
	(&control.Control{Vault: vault.NewRepository(ls, s.log).WithKeys(vault.Keys{s.key}), Log: s.log, Temporal: s.tc, ControlQueue: s.controlQueue(),
		Now: func() time.Time { return s.clock.Now().Add(s.nowOffset) }}).Register(w)
	require.NoError(s.t, w.Start())
	s.t.Cleanup(w.Stop)
	return ls
}

func isManifest(blob string) bool {
	return strings.Contains(blob, "/points/") && strings.HasSuffix(blob, ".json")
}

// TestCommitRetriedAfterLostResultSucceeds: the commit's manifest write succeeded and its
// result was lost; the retried commit must succeed for the point that exists, not fail the
// backup as RecoveryPointVerificationFailed (issue 11, item 2).
func TestCommitRetriedAfterLostResultSucceeds(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ls := s.startControlLosingResults()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Lost", DataPages: 256})
	require.NoError(t, err)
	_, err = db.Write(10)
	require.NoError(t, err)
	ls.arm(isManifest)

	run := s.start(s.backupInput("Lost", protocol.Full))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res protocol.BackupResult
	require.NoError(t, run.Get(ctx, &res), "the backup succeeded: its point exists")
	require.Len(t, ls.lostWrites(), 1, "the first commit's answer was lost")
	h := s.history(run.GetID(), run.GetRunID())
	assert.EqualValues(t, 2, activityAttempts(h)[protocol.ActivityCommitRecoveryPoint])
	ms := s.points(vm, "Lost")
	require.Len(t, ms, 1)
	assert.Equal(t, res.RecoveryPoint.PointID, ms[0].PointID)
	require.NoError(t, s.repo.DeepVerify(ctx, ms[0], s.key))
	record(t, "backup-commit-result-lost", h)
}

// TestOverwriteRestoreWhoseTailLogCommitIsRetried: during a restore that overwrites the
// source, the tail-log backup (which leaves the database RESTORING) has its commit's result
// lost. The retry must succeed and the restore go on to the end, the database ONLINE with
// the chosen point's data, and the tail-log point restorable.
func TestOverwriteRestoreWhoseTailLogCommitIsRetried(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ls := s.startControlLosingResults()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Over", DataPages: 256})
	require.NoError(t, err)
	write := func(n int) {
		s.clock.Advance(time.Minute)
		_, err := db.Write(n)
		require.NoError(t, err)
	}
	write(20)
	full := s.mustBackup(s.backupInput("Over", protocol.Full))
	write(5)
	l1 := s.mustBackup(s.backupInput("Over", protocol.Log))
	write(7)
	latest := db.Digest()
	ls.arm(isManifest) // from here on: the tail-log's commit

	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Over", PointID: l1.PointID, Overwrite: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var res protocol.RestoreResult
	require.NoError(t, run.Get(ctx, &res), "the restore goes on after the tail-log's commit is retried")
	require.Len(t, ls.lostWrites(), 1)
	require.NotNil(t, res.TailLog)
	assert.Equal(t, "ONLINE", res.State)
	want, err := db.DigestAtLSN(l1.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Over").Digest())
	assert.NotEqual(t, full.PointID, res.TailLog.PointID)

	// The child backup's history: its commit ran twice.
	parent := s.history(run.GetID(), run.GetRunID())
	childID, childRun := childExecution(parent)
	require.NotEmpty(t, childID)
	child := s.history(childID, childRun)
	assert.EqualValues(t, 2, activityAttempts(child)[protocol.ActivityCommitRecoveryPoint])
	record(t, "restore-overwrite-tail-log-commit-retried", parent)
	record(t, "backup-tail-log-commit-retried", child)

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Over", PointID: res.TailLog.PointID, TargetDatabase: "Over_before"})
	require.NoError(t, err)
	assert.Equal(t, latest, s.db("Over_before").Digest(), "the tail-log point holds the latest changes")
}

// TestControlRecordsSurviveLostResults: every other control activity that writes the
// vault (the item record, on configure, stop and resume)
// has one write's answer lost, and the workflow still ends as it should.
func TestControlRecordsSurviveLostResults(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ls := s.startControlLosingResults()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Rec", DataPages: 32})
	require.NoError(t, err)
	_, err = db.Write(3)
	require.NoError(t, err)
	item := vault.ItemID(vm, "Rec")
	itemBlob := vault.ItemBlob(item)
	lostOnce := func(blob string) bool { return blob == itemBlob }

	ls.arm(lostOnce)
	var cr protocol.ConfigureProtectionResult
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{"Rec"}, Policy: "daily-30d"}, &cr)
	require.NoError(t, err)
	it, err := s.repo.Item(context.Background(), item)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemProtected, it.State)
	assert.Equal(t, []string{"full", "log"}, s.schedules(item))

	for _, step := range []struct {
		workflow string
		in       any
		state    string
	}{
		{protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: vm, Database: "Rec"}, vault.ItemStoppedRetain},
		{protocol.WorkflowResumeProtection, protocol.ResumeProtectionInput{Instance: vm, Database: "Rec"}, vault.ItemProtected},
	} {
		ls.mu.Lock()
		ls.lost = nil // lose this workflow's item write too
		ls.mu.Unlock()
		_, err = s.run(step.workflow, step.in, nil)
		require.NoError(t, err, step.workflow)
		require.Len(t, ls.lostWrites(), 1, step.workflow)
		it, err := s.repo.Item(context.Background(), item)
		require.NoError(t, err)
		assert.Equal(t, step.state, it.State, step.workflow)
	}
}

// childExecution returns the first child workflow the history started.
func childExecution(h *historypb.History) (string, string) {
	for _, e := range h.Events {
		if a := e.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
			return a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId()
		}
	}
	return "", ""
}
