package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

func retentionEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Retention, workflowOpts(protocol.WorkflowRetention))
	env.RegisterActivityWithOptions(func(context.Context) ([]protocol.ProtectedItem, error) { return nil, nil },
		activity.RegisterOptions{Name: protocol.ActivityListItems})
	env.RegisterActivityWithOptions(func(context.Context) ([]string, error) { return nil, nil },
		activity.RegisterOptions{Name: protocol.ActivityListItemIDs})
	env.RegisterActivityWithOptions(func(context.Context, protocol.ApplyRetentionInput) (protocol.ApplyRetentionResult, error) {
		return protocol.ApplyRetentionResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityApplyRetention})
	env.RegisterActivityWithOptions(func(context.Context, protocol.RetentionInput) (protocol.RetentionResult, error) {
		return protocol.RetentionResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivitySweep})
	return env
}

// One item whose manifest cannot be read used to fail its ApplyRetention 20 times and then
// abort the run, before the other items and before Sweep. Now the item is reported and the
// rest proceed (issue 11, item 7).
func TestRetentionIsolatesAFailedItem(t *testing.T) {
	env := retentionEnv(t)
	attempts := map[string]int{}
	env.OnActivity(protocol.ActivityListItemIDs, mock.Anything).Return([]string{"item-a", "item-bad", "item-c"}, nil)
	// (What the code before the fix listed: the same items, as records.)
	env.OnActivity(protocol.ActivityListItems, mock.Anything).Return([]protocol.ProtectedItem{
		{ItemID: "item-a"}, {ItemID: "item-bad"}, {ItemID: "item-c"}}, nil).Maybe()
	env.OnActivity(protocol.ActivityApplyRetention, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.ApplyRetentionInput) (protocol.ApplyRetentionResult, error) {
			attempts[in.ItemID]++
			if in.ItemID == "item-bad" {
				return protocol.ApplyRetentionResult{}, protocol.UserError(protocol.ErrUnreadableRecord,
					"point P1 of item-bad cannot be read: vault: invalid manifest")
			}
			return protocol.ApplyRetentionResult{Kept: 1, Deleted: []protocol.RetentionDecision{{ItemID: in.ItemID, PointID: "old", Delete: true}}}, nil
		})
	swept := false
	env.OnActivity(protocol.ActivitySweep, mock.Anything, mock.Anything).Return(
		func(context.Context, protocol.RetentionInput) (protocol.RetentionResult, error) {
			swept = true
			return protocol.RetentionResult{SweptBlobs: []string{"orphan"}, SweptBytes: 10}, nil
		})
	env.ExecuteWorkflow(protocol.WorkflowRetention, protocol.RetentionInput{})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res protocol.RetentionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, swept, "the sweep runs although an item failed")
	assert.Equal(t, []string{"orphan"}, res.SweptBlobs)
	assert.Equal(t, 2, res.Kept)
	require.Len(t, res.Deleted, 2)
	assert.Equal(t, "item-a", res.Deleted[0].ItemID)
	assert.Equal(t, "item-c", res.Deleted[1].ItemID)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "item-bad", res.Failed[0].ItemID)
	assert.Equal(t, protocol.ErrUnreadableRecord, res.Failed[0].ErrorType)
	assert.Contains(t, res.Failed[0].Error, "cannot be read")
	assert.Equal(t, 1, attempts["item-bad"], "an unreadable record is not retried")
}

// The same pattern in Reconcile: one item whose record cannot be read (or whose schedules
// fail) stopped the rebuild of every other item's schedules. It is now reported and the
// rest proceed.
func TestReconcileIsolatesAFailedItem(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Reconcile, workflowOpts(protocol.WorkflowReconcile))
	env.RegisterActivityWithOptions(func(context.Context) ([]protocol.ProtectedItem, error) { return nil, nil },
		activity.RegisterOptions{Name: protocol.ActivityListItems})
	env.RegisterActivityWithOptions(func(context.Context) ([]string, error) { return nil, nil },
		activity.RegisterOptions{Name: protocol.ActivityListItemIDs})
	env.RegisterActivityWithOptions(func(context.Context, protocol.AutoProtectionInput) ([]protocol.AutoProtectedInstance, error) {
		return nil, nil
	}, activity.RegisterOptions{Name: protocol.ActivityAutoProtection})
	env.RegisterActivityWithOptions(func(context.Context, protocol.EnsureSchedulesInput) (protocol.EnsureSchedulesResult, error) {
		return protocol.EnsureSchedulesResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityEnsureSchedule})
	env.OnActivity(protocol.ActivityListItemIDs, mock.Anything).Return([]string{"item-a", "item-bad", "item-c"}, nil)
	// Reading every record fails on the unreadable one (vault.Repository.Items does).
	env.OnActivity(protocol.ActivityListItems, mock.Anything).Return(nil,
		protocol.UserError(protocol.ErrUnreadableRecord, "the item record of item-bad cannot be read")).Maybe()
	env.OnActivity(protocol.ActivityEnsureSchedule, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in protocol.EnsureSchedulesInput) (protocol.EnsureSchedulesResult, error) {
			if in.ItemID == "item-bad" {
				return protocol.EnsureSchedulesResult{}, protocol.UserError(protocol.ErrUnreadableRecord, "the item record of item-bad cannot be read")
			}
			return protocol.EnsureSchedulesResult{Created: 2}, nil
		})
	env.ExecuteWorkflow(protocol.WorkflowReconcile)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res protocol.ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, 3, res.Items)
	assert.Equal(t, 4, res.Created, "the items after the failed one got their schedules")
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "item-bad", res.Failed[0].ItemID)
	assert.Equal(t, protocol.ErrUnreadableRecord, res.Failed[0].ErrorType)
}

// The same pattern in Rediscover: one auto-protected instance whose policy is gone (or whose
// items cannot be recorded) stopped the discovery of every instance after it. It is now
// reported and the others are protected.
func TestRediscoverIsolatesAFailedInstance(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Rediscover, workflowOpts(protocol.WorkflowRediscover))
	registerAgentCheck(env)
	env.RegisterWorkflowWithOptions(func(workflow.Context, protocol.BackupInput) (*protocol.BackupResult, error) {
		return &protocol.BackupResult{}, nil
	}, workflowOpts(protocol.WorkflowBackup))
	env.RegisterActivityWithOptions(func(context.Context, protocol.AutoProtectionInput) ([]protocol.AutoProtectedInstance, error) {
		return []protocol.AutoProtectedInstance{{VM: "VM1", Instance: "VM1", Policy: "gone"}, {VM: "VM2", Instance: "VM2", Policy: "daily"}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityAutoProtection})
	env.RegisterActivityWithOptions(func(context.Context) ([]protocol.ProtectedItem, error) { return nil, nil },
		activity.RegisterOptions{Name: protocol.ActivityListItems})
	env.RegisterActivityWithOptions(func(_ context.Context, in protocol.InquiryInput) (protocol.InquiryResult, error) {
		return protocol.InquiryResult{VM: in.VM, Instances: []protocol.InstanceInfo{{Name: in.VM,
			Databases: []protocol.DatabaseInfo{{Name: "New", ItemID: "item-" + in.VM, Protectable: true}}}}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityDiscover})
	env.RegisterActivityWithOptions(func(_ context.Context, name string) (policy.Policy, error) {
		if name == "gone" {
			return policy.Policy{}, protocol.UserError(protocol.ErrPolicyNotFound, "no policy named %q in the vault", name)
		}
		return policy.Policy{Name: name}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityLoadPolicy})
	env.RegisterActivityWithOptions(func(_ context.Context, in protocol.RegisterItemsInput) ([]string, error) {
		return []string{in.Databases[0].ItemID}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityRegisterItems})
	env.RegisterActivityWithOptions(func(context.Context, protocol.EnsureSchedulesInput) (protocol.EnsureSchedulesResult, error) {
		return protocol.EnsureSchedulesResult{Schedules: []string{"full"}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityEnsureSchedule})
	env.ExecuteWorkflow(protocol.WorkflowRediscover)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res protocol.RediscoverResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, res.Protected, 1, "the instance after the failed one was protected")
	assert.Equal(t, "item-VM2", res.Protected[0].ItemID)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "VM1", res.Failed[0].Instance)
	assert.Equal(t, protocol.ErrPolicyNotFound, res.Failed[0].ErrorType)
}
