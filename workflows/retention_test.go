package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// fakeItems is the vault's item ids as ListItemIDsPage serves them, and what was asked.
type fakeItems struct {
	ids   []string // sorted
	calls []protocol.ListItemIDsPageInput
}

func itemIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("item-%02d", i)
	}
	return ids
}

func (f *fakeItems) page(_ context.Context, in protocol.ListItemIDsPageInput) (protocol.ListItemIDsPageResult, error) {
	f.calls = append(f.calls, in)
	var rest []string
	for _, id := range f.ids {
		if id > in.After {
			rest = append(rest, id)
		}
	}
	if len(rest) > in.Limit {
		return protocol.ListItemIDsPageResult{IDs: rest[:in.Limit], More: true}, nil
	}
	return protocol.ListItemIDsPageResult{IDs: rest}, nil
}

func (f *fakeItems) afters() []string {
	var out []string
	for _, c := range f.calls {
		out = append(out, c.After)
	}
	return out
}

// retentionRun is one Retention run in the test environment, with the item ids of items,
// ApplyRetention failing for bad (an unreadable record) and deleting one point of every
// other item, and the sweeps counted.
type retentionRun struct {
	env      *testsuite.TestWorkflowEnvironment
	applied  []string
	attempts map[string]int
	sweeps   []protocol.RetentionInput
}

func newRetentionRun(items *fakeItems, bad string) *retentionRun {
	var s testsuite.WorkflowTestSuite
	r := &retentionRun{env: s.NewTestWorkflowEnvironment(), attempts: map[string]int{}}
	// Registered as the worker does: the input (the continued run's too) is decoded strictly.
	r.env.RegisterWorkflowWithOptions(strictInput(Retention), workflowOpts(protocol.WorkflowRetention))
	r.env.RegisterActivityWithOptions(items.page, activity.RegisterOptions{Name: protocol.ActivityListItemIDsPage})
	r.env.RegisterActivityWithOptions(func(_ context.Context, in protocol.ApplyRetentionInput) (protocol.ApplyRetentionResult, error) {
		r.attempts[in.ItemID]++
		if in.ItemID == bad {
			return protocol.ApplyRetentionResult{}, protocol.UserError(protocol.ErrUnreadableRecord,
				"point P1 of %s cannot be read: vault: invalid manifest", in.ItemID)
		}
		r.applied = append(r.applied, in.ItemID)
		return protocol.ApplyRetentionResult{Kept: 1, Deleted: []protocol.RetentionDecision{{ItemID: in.ItemID, PointID: "old", Delete: true}}}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityApplyRetention})
	r.env.RegisterActivityWithOptions(func(_ context.Context, in protocol.RetentionInput) (protocol.RetentionResult, error) {
		r.sweeps = append(r.sweeps, in)
		return protocol.RetentionResult{SweptBlobs: []string{"orphan"}, SweptBytes: 10}, nil
	}, activity.RegisterOptions{Name: protocol.ActivitySweep})
	return r
}

// continuedInput is the input a run that continued as new hands its next run.
func continuedInput[In any](t *testing.T, err error) In {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can, "the run continues as new")
	var in In
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	return in
}

// One item whose manifest cannot be read used to fail its ApplyRetention 20 times and then
// abort the run, before the other items and before Sweep. Now the item is reported and the
// rest proceed (issue 11, item 7). The items come a page at a time: five items, two a page,
// are three pages in one run, and the sweep runs once, after the last.
func TestRetentionPagesItsItemsAndIsolatesAFailedItem(t *testing.T) {
	items := &fakeItems{ids: itemIDs(5)}
	r := newRetentionRun(items, "item-02")
	r.env.ExecuteWorkflow(protocol.WorkflowRetention, protocol.RetentionInput{PageSize: 2})
	require.True(t, r.env.IsWorkflowCompleted())
	require.NoError(t, r.env.GetWorkflowError())
	var res protocol.RetentionResult
	require.NoError(t, r.env.GetWorkflowResult(&res))

	assert.Equal(t, []string{"", "item-01", "item-03"}, items.afters(), "three pages, each after the last id of the one before")
	for _, c := range items.calls {
		assert.Equal(t, 2, c.Limit)
	}
	assert.Equal(t, []string{"item-00", "item-01", "item-03", "item-04"}, r.applied, "the items after the failed one were processed")
	require.Len(t, r.sweeps, 1, "the sweep runs once, although an item failed")
	assert.Equal(t, protocol.RetentionInput{}, r.sweeps[0], "the sweep gets no paging state")
	assert.Equal(t, []string{"orphan"}, res.SweptBlobs)
	assert.Equal(t, 4, res.Kept)
	assert.Equal(t, 4, res.DeletedCount)
	require.Len(t, res.Deleted, 4)
	assert.Equal(t, "item-00", res.Deleted[0].ItemID)
	assert.Equal(t, "item-04", res.Deleted[3].ItemID)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "item-02", res.Failed[0].ItemID)
	assert.Equal(t, protocol.ErrUnreadableRecord, res.Failed[0].ErrorType)
	assert.Contains(t, res.Failed[0].Error, "cannot be read")
	assert.Equal(t, 1, r.attempts["item-02"], "an unreadable record is not retried")
}

// After ItemPagesPerRun pages the run continues as new, carrying its cursor and totals;
// the next run starts after the cursor, adds to the totals, and alone sweeps.
func TestRetentionContinuesAsNewWithItsCursorAndTotals(t *testing.T) {
	require.Equal(t, 5, protocol.ItemPagesPerRun, "this test's numbers assume five pages a run")
	items := &fakeItems{ids: itemIDs(13)} // 2 a page: 5 pages (10 items) in the first run, 2 pages after
	first := newRetentionRun(items, "item-03")
	first.env.ExecuteWorkflow(protocol.WorkflowRetention, protocol.RetentionInput{DryRun: true, PageSize: 2, SweepGraceHours: 48})
	require.True(t, first.env.IsWorkflowCompleted())
	next := continuedInput[protocol.RetentionInput](t, first.env.GetWorkflowError())
	assert.Equal(t, []string{"", "item-01", "item-03", "item-05", "item-07"}, items.afters())
	assert.Empty(t, first.sweeps, "no sweep before the last run")
	assert.Len(t, first.applied, 9)
	assert.Equal(t, "item-09", next.Cursor, "the last item processed")
	assert.True(t, next.DryRun)
	assert.Equal(t, 2, next.PageSize)
	assert.Equal(t, 48, next.SweepGraceHours)
	require.NotNil(t, next.Totals)
	assert.Equal(t, 9, next.Totals.Kept)
	assert.Equal(t, 9, next.Totals.DeletedCount)
	require.Len(t, next.Totals.Failed, 1)
	assert.Equal(t, "item-03", next.Totals.Failed[0].ItemID)

	items.calls = nil
	last := newRetentionRun(items, "item-03")
	last.env.ExecuteWorkflow(protocol.WorkflowRetention, next)
	require.True(t, last.env.IsWorkflowCompleted())
	require.NoError(t, last.env.GetWorkflowError())
	var res protocol.RetentionResult
	require.NoError(t, last.env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"item-09", "item-11"}, items.afters())
	assert.Equal(t, []string{"item-10", "item-11", "item-12"}, last.applied, "no item processed twice")
	require.Len(t, last.sweeps, 1, "the last run sweeps, once")
	assert.Equal(t, protocol.RetentionInput{DryRun: true, SweepGraceHours: 48}, last.sweeps[0])
	assert.True(t, res.DryRun)
	assert.Equal(t, 12, res.Kept)
	assert.Equal(t, 12, res.DeletedCount)
	assert.Len(t, res.Deleted, 12)
	require.Len(t, res.Failed, 1, "the failure of the first run is in the result")
	assert.Equal(t, "item-03", res.Failed[0].ItemID)
	assert.Equal(t, []string{"orphan"}, res.SweptBlobs)
}

// When Temporal suggests it (a large history), the run continues as new after the page in
// hand, before ItemPagesPerRun.
func TestRetentionContinuesAsNewWhenSuggested(t *testing.T) {
	items := &fakeItems{ids: itemIDs(5)}
	r := newRetentionRun(items, "")
	r.env.SetContinueAsNewSuggested(true)
	r.env.ExecuteWorkflow(protocol.WorkflowRetention, protocol.RetentionInput{PageSize: 2})
	require.True(t, r.env.IsWorkflowCompleted())
	next := continuedInput[protocol.RetentionInput](t, r.env.GetWorkflowError())
	assert.Equal(t, []string{""}, items.afters(), "one page")
	assert.Equal(t, "item-01", next.Cursor)
	assert.Equal(t, 2, next.Totals.Kept)
	assert.Empty(t, r.sweeps)
}

// The result lists at most MaxListedDecisions deleted points however many runs and items;
// DeletedCount counts them all.
func TestRetentionListsABoundedNumberOfDecisions(t *testing.T) {
	items := &fakeItems{ids: itemIDs(3)}
	r := newRetentionRun(items, "")
	r.env.OnActivity(protocol.ActivityApplyRetention, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.ApplyRetentionInput) (protocol.ApplyRetentionResult, error) {
			out := protocol.ApplyRetentionResult{}
			for i := range 400 {
				out.Deleted = append(out.Deleted, protocol.RetentionDecision{ItemID: in.ItemID, PointID: fmt.Sprint(i), Delete: true})
			}
			return out, nil
		})
	r.env.ExecuteWorkflow(protocol.WorkflowRetention, protocol.RetentionInput{})
	require.NoError(t, r.env.GetWorkflowError())
	var res protocol.RetentionResult
	require.NoError(t, r.env.GetWorkflowResult(&res))
	assert.Equal(t, 1200, res.DeletedCount)
	assert.Len(t, res.Deleted, protocol.MaxListedDecisions)
}

// A page size outside 1..MaxItemPageSize is refused, naming the field.
func TestRetentionRefusesABadPageSize(t *testing.T) {
	items := &fakeItems{ids: itemIDs(3)}
	r := newRetentionRun(items, "")
	r.env.ExecuteWorkflow(protocol.WorkflowRetention, protocol.RetentionInput{PageSize: protocol.MaxItemPageSize + 1})
	require.Error(t, r.env.GetWorkflowError())
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(r.env.GetWorkflowError()))
	assert.Contains(t, r.env.GetWorkflowError().Error(), `"pageSize"`)
	assert.Empty(t, items.calls)
}

// reconcileRun is one Reconcile run: EnsureSchedules fails for bad and creates two schedules
// for every other item; the rediscovery step (AutoProtection) is counted.
type reconcileRun struct {
	env         *testsuite.TestWorkflowEnvironment
	ensured     []string
	rediscovery int
}

func newReconcileRun(items *fakeItems, bad string) *reconcileRun {
	var s testsuite.WorkflowTestSuite
	r := &reconcileRun{env: s.NewTestWorkflowEnvironment()}
	r.env.RegisterWorkflowWithOptions(strictInput(Reconcile), workflowOpts(protocol.WorkflowReconcile))
	r.env.RegisterActivityWithOptions(items.page, activity.RegisterOptions{Name: protocol.ActivityListItemIDsPage})
	r.env.RegisterActivityWithOptions(func(_ context.Context, in protocol.AutoProtectionInput) ([]protocol.AutoProtectedInstance, error) {
		if in.List && in.EnsureSchedule {
			r.rediscovery++
		}
		return nil, nil
	}, activity.RegisterOptions{Name: protocol.ActivityAutoProtection})
	r.env.RegisterActivityWithOptions(func(_ context.Context, in protocol.EnsureSchedulesInput) (protocol.EnsureSchedulesResult, error) {
		if in.ItemID == bad {
			return protocol.EnsureSchedulesResult{}, protocol.UserError(protocol.ErrUnreadableRecord, "the item record of %s cannot be read", in.ItemID)
		}
		r.ensured = append(r.ensured, in.ItemID)
		return protocol.EnsureSchedulesResult{Created: 2}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityEnsureSchedule})
	return r
}

// The same pattern in Reconcile: one item whose record cannot be read (or whose schedules
// fail) stopped the rebuild of every other item's schedules. It is now reported and the
// rest proceed, a page at a time. It starts without an input, as the CLI starts it.
func TestReconcilePagesItsItemsAndIsolatesAFailedItem(t *testing.T) {
	items := &fakeItems{ids: itemIDs(3)}
	r := newReconcileRun(items, "item-01")
	r.env.ExecuteWorkflow(protocol.WorkflowReconcile)
	require.True(t, r.env.IsWorkflowCompleted())
	require.NoError(t, r.env.GetWorkflowError())
	var res protocol.ReconcileResult
	require.NoError(t, r.env.GetWorkflowResult(&res))
	assert.Equal(t, []protocol.ListItemIDsPageInput{{Limit: protocol.DefaultItemPageSize}}, items.calls)
	assert.Equal(t, 1, r.rediscovery)
	assert.Equal(t, 3, res.Items)
	assert.Equal(t, 4, res.Created, "the items after the failed one got their schedules")
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "item-01", res.Failed[0].ItemID)
	assert.Equal(t, protocol.ErrUnreadableRecord, res.Failed[0].ErrorType)
}

// Reconcile over three pages in one run, then over more than ItemPagesPerRun pages: it
// continues as new with its cursor and totals, and the next run neither repeats an item
// nor the rediscovery schedule.
func TestReconcileContinuesAsNewWithItsCursorAndTotals(t *testing.T) {
	items := &fakeItems{ids: itemIDs(6)}
	r := newReconcileRun(items, "")
	r.env.ExecuteWorkflow(protocol.WorkflowReconcile, protocol.ReconcileInput{PageSize: 2})
	require.NoError(t, r.env.GetWorkflowError())
	var res protocol.ReconcileResult
	require.NoError(t, r.env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"", "item-01", "item-03"}, items.afters(), "three pages")
	assert.Equal(t, 6, res.Items)
	assert.Equal(t, 12, res.Created)

	items = &fakeItems{ids: itemIDs(12)}
	first := newReconcileRun(items, "item-04")
	first.env.ExecuteWorkflow(protocol.WorkflowReconcile, protocol.ReconcileInput{PageSize: 2})
	require.True(t, first.env.IsWorkflowCompleted())
	next := continuedInput[protocol.ReconcileInput](t, first.env.GetWorkflowError())
	assert.Equal(t, "item-09", next.Cursor)
	assert.Equal(t, 2, next.PageSize)
	require.NotNil(t, next.Totals)
	assert.Equal(t, protocol.ReconcileResult{Items: 10, Created: 18,
		Failed: []protocol.RetentionFailure{{ItemID: "item-04", ErrorType: protocol.ErrUnreadableRecord,
			Error: next.Totals.Failed[0].Error}}}, *next.Totals)
	assert.Equal(t, 1, first.rediscovery)

	items.calls = nil
	last := newReconcileRun(items, "item-04")
	last.env.ExecuteWorkflow(protocol.WorkflowReconcile, next)
	require.NoError(t, last.env.GetWorkflowError())
	require.NoError(t, last.env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"item-09"}, items.afters())
	assert.Equal(t, []string{"item-10", "item-11"}, last.ensured)
	assert.Zero(t, last.rediscovery, "the rediscovery schedule was ensured by the first run")
	assert.Equal(t, 12, res.Items)
	assert.Equal(t, 22, res.Created)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "item-04", res.Failed[0].ItemID)
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
	env.RegisterActivityWithOptions(func(_ context.Context, name string) (protocol.Policy, error) {
		if name == "gone" {
			return protocol.Policy{}, protocol.UserError(protocol.ErrPolicyNotFound, "no policy named %q in the vault", name)
		}
		return protocol.Policy{Name: name}, nil
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

// Reconcile decodes its input strictly like every public workflow: a typo is refused,
// naming the field, before anything runs; an old start with no input, or {}, is fine.
func TestReconcileInputDecodesStrictly(t *testing.T) {
	items := &fakeItems{ids: itemIDs(1)}
	r := newReconcileRun(items, "")
	r.env.ExecuteWorkflow(protocol.WorkflowReconcile, json.RawMessage(`{"pageSze": 2}`))
	assert.Contains(t, invalidInput(t, r.env), `unknown field "pageSze" (did you mean "pageSize"?)`)
	assert.Empty(t, items.calls)
	assert.Zero(t, r.rediscovery)

	r = newReconcileRun(items, "")
	r.env.ExecuteWorkflow(protocol.WorkflowReconcile, json.RawMessage(`{}`))
	require.NoError(t, r.env.GetWorkflowError())
	var res protocol.ReconcileResult
	require.NoError(t, r.env.GetWorkflowResult(&res))
	assert.Equal(t, 1, res.Items)
}
