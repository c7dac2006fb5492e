package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// TestCommitOutlivesAnOutageOfHours: the vault is unreachable for three hours after SQL
// Server finished the backup. The commit keeps being retried (not 20 attempts within about
// a quarter hour) and the point is committed when the vault is back; every attempt carries
// the same createdAt, workflow time (issue 11, items 8 and 2).
func TestCommitOutlivesAnOutageOfHours(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(prep, nil)
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(
		protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: "L", LastLSN: "37000000000000042"}}, nil)
	var first time.Time
	var createdAt []time.Time
	outage := 3 * time.Hour
	env.OnActivity(protocol.ActivityCommitRecoveryPoint, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.CommitInput) (protocol.RecoveryPoint, error) {
			now := env.Now()
			if first.IsZero() {
				first = now
			}
			createdAt = append(createdAt, in.CreatedAt)
			if now.Sub(first) < outage {
				return protocol.RecoveryPoint{}, protocol.RetryableError(protocol.ErrVaultUnavailable, errors.New("unreachable"), "vault unreachable")
			}
			assert.EqualValues(t, len(createdAt), activity.GetInfo(ctx).Attempt)
			return protocol.RecoveryPoint{ItemID: in.ItemID, PointID: in.PointID, LastLSN: in.Stream.BackupSet.LastLSN}, nil
		})
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Log})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "committed after the outage")
	assert.Greater(t, len(createdAt), 20, "more than the old 20 attempts")
	require.False(t, createdAt[0].IsZero(), "createdAt is passed in")
	for _, c := range createdAt {
		assert.True(t, createdAt[0].Equal(c), "every attempt writes the same createdAt")
	}
}

// TestCommitGivesUpWithinItsWindow: an outage longer than CommitRetryWindow fails the
// backup, before the sweep's grace could have deleted the stripes under a late commit.
func TestCommitGivesUpWithinItsWindow(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(protocol.ActivityPrepareBackup, mock.Anything, mock.Anything).Return(prep, nil)
	env.OnActivity(protocol.ActivityStreamBackup, mock.Anything, mock.Anything).Return(
		protocol.StreamBackupResult{BackupSet: protocol.BackupSet{Type: "L", LastLSN: "37000000000000042"}}, nil)
	var first, last time.Time
	env.OnActivity(protocol.ActivityCommitRecoveryPoint, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.CommitInput) (protocol.RecoveryPoint, error) {
			if first.IsZero() {
				first = env.Now()
			}
			last = env.Now()
			return protocol.RecoveryPoint{}, protocol.RetryableError(protocol.ErrVaultUnavailable, errors.New("unreachable"), "vault unreachable")
		})
	env.ExecuteWorkflow(protocol.WorkflowBackup, protocol.BackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Log})
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	assert.LessOrEqual(t, last.Sub(first), protocol.CommitRetryWindow)
	assert.Greater(t, last.Sub(first), protocol.CommitRetryWindow-10*time.Minute, "it kept trying to the end of the window")
	assert.Less(t, protocol.CommitRetryWindow, protocol.MinSweepGrace-protocol.StreamScheduleToClose)
}
