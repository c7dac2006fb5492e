package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// A scheduled log backup asks the control side for the vault's chain state (on the control
// queue, not the agent's) and hands it to the agent's PrepareBackup, so the agent reads
// nothing from the vault.
func TestBackupPassesTheControlSidesChainStateToPrepare(t *testing.T) {
	env := newEnv(t)
	state := &protocol.ChainState{ItemID: "item1", DatabaseGUID: "6F1C0B8E-0000-4000-8000-000000000001", NewestFullID: "20261126T000000Z-full-abc",
		NewestFullStart: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), NewestLogLastLSN: "37000000000000042", BaseEndLSN: "37000000000000010",
		BackupSetGUIDs: []string{"A1", "B2"}, FullMaxAgeMinutes: 2 * 24 * 60}
	var chainIn protocol.ChainStateInput
	chainCalls := 0
	env.OnActivity(protocol.ActivityBackupChainState, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.ChainStateInput) (*protocol.ChainState, error) {
			assert.NotContains(t, activity.GetInfo(ctx).TaskQueue, protocol.AgentTaskQueuePrefix, "the chain state is the control side's")
			chainCalls++
			chainIn = in
			return state, nil
		})
	var prepIn protocol.PrepareBackupInput
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
			prepIn = in
			return prep, nil
		})
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Log, AutoFull: true, Reason: "schedule",
		ItemID: "i0123456789abcdef01234567"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, 1, chainCalls)
	assert.Equal(t, protocol.ChainStateInput{Instance: "SQLVM1", Database: "Sales", ItemID: "i0123456789abcdef01234567"}, chainIn,
		"the schedule's item reaches the control side")
	require.NotNil(t, prepIn.Chain, "PrepareBackup gets the chain state")
	assert.Equal(t, *state, *prepIn.Chain)
	assert.True(t, prepIn.AutoFull)
}

// A full, or a backup without AutoFull (on demand: a broken chain is an error, not a full),
// needs no chain state; and when the control side cannot give one, the agent reads the
// vault itself (Chain nil), as before.
func TestBackupChainStateOnlyForScheduledLogsAndDifferentials(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        protocol.BackupInput
		fail      bool
		wantCalls int
	}{
		{"full", protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Full, AutoFull: true}, false, 0},
		{"on demand log", protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Log}, false, 0},
		{"control side fails", protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Differential, AutoFull: true}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			calls := 0
			env.OnActivity(protocol.ActivityBackupChainState, mock.Anything, mock.Anything).Return(
				func(context.Context, protocol.ChainStateInput) (*protocol.ChainState, error) {
					calls++
					if tc.fail {
						return nil, protocol.UserError(protocol.ErrUnreadableRecord, "the item record cannot be read")
					}
					return &protocol.ChainState{ItemID: "item1"}, nil
				})
			prepared := false
			env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, in protocol.PrepareBackupInput) (protocol.PrepareBackupResult, error) {
					prepared = true
					assert.Nil(t, in.Chain)
					return prep, nil
				})
			env.ExecuteWorkflow(protocol.WorkflowBackup, tc.in)
			require.NoError(t, env.GetWorkflowError())
			assert.True(t, prepared)
			assert.Equal(t, tc.wantCalls, calls)
		})
	}
}
