package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// watchdogRun is one RPOWatchdog run in the test environment over three items (pages of
// two), with each sweep's summary scripted by finish (by sweep number, from 1) and the
// sweep numbered failing failPage failing its first page.
type watchdogRun struct {
	env      *testsuite.TestWorkflowEnvironment
	pages    []protocol.CheckRPOPageInput
	finishes []protocol.FinishRPOSweepInput
	notified []protocol.NotifyRPOInput
	states   []string
}

func newWatchdogRun(t *testing.T, finish map[int]protocol.RPOSweepSummary, failPage int) *watchdogRun {
	var s testsuite.WorkflowTestSuite
	r := &watchdogRun{env: s.NewTestWorkflowEnvironment()}
	r.env.RegisterWorkflowWithOptions(strictInput(RPOWatchdog), workflowOpts(protocol.WorkflowRPOWatchdog))
	sweeps := map[string]int{}
	r.env.RegisterActivityWithOptions(func(_ context.Context, in protocol.CheckRPOPageInput) (protocol.CheckRPOPageResult, error) {
		r.pages = append(r.pages, in)
		if in.After == "" {
			sweeps[in.Sweep] = len(sweeps) + 1
		}
		if sweeps[in.Sweep] == failPage {
			return protocol.CheckRPOPageResult{}, protocol.UserError(protocol.ErrUnreadableRecord, "the item record of i1 cannot be read")
		}
		if in.After == "" {
			return protocol.CheckRPOPageResult{Items: 2, Breached: 1, Next: "i2", More: true}, nil
		}
		return protocol.CheckRPOPageResult{Items: 1, Next: "i3"}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityCheckRPOPage})
	r.env.RegisterActivityWithOptions(func(_ context.Context, in protocol.FinishRPOSweepInput) (protocol.RPOSweepSummary, error) {
		r.finishes = append(r.finishes, in)
		sum := finish[sweeps[in.Sweep]]
		sum.Sweep, sum.At = in.Sweep, in.At
		return sum, nil
	}, activity.RegisterOptions{Name: protocol.ActivityFinishRPOSweep})
	r.env.RegisterActivityWithOptions(func(_ context.Context, in protocol.NotifyRPOInput) (protocol.NotifyRPOResult, error) {
		r.notified = append(r.notified, in)
		return protocol.NotifyRPOResult{Sent: true, Status: 200}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityNotifyRPO})
	r.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		v, ok := sa.GetKeyword(protocol.SARPOState)
		require.True(t, ok)
		r.states = append(r.states, v)
	}).Return(nil)
	return r
}

// Three sweeps a run, a minute apart: each walks the items a page at a time and merges
// them; the search attribute is set when the state changes; the webhook is told only when
// the breaches changed; a failed sweep is logged and the next runs on time; the query
// answers the last good summary; the run continues as new carrying it.
func TestRPOWatchdogSweepsAndContinuesAsNew(t *testing.T) {
	breach := protocol.RPOBreach{ItemID: "i1", Database: "Sales", Reason: protocol.RPOReasonSchedulePaused, RPOSeconds: 7200, TargetSeconds: 3600}
	r := newWatchdogRun(t, map[int]protocol.RPOSweepSummary{
		1: {Items: 3, Breached: 1, Worst: []protocol.RPOBreach{breach}, Changed: true},
		2: {Items: 3, Breached: 1, Worst: []protocol.RPOBreach{breach}},
		4: {Items: 3, Changed: true},
	}, 3)
	var queried *protocol.RPOSweepSummary
	r.env.RegisterDelayedCallback(func() {
		v, err := r.env.QueryWorkflow(protocol.QueryRPOWatchdog)
		require.NoError(t, err)
		require.NoError(t, v.Get(&queried))
	}, 30*time.Second)
	r.env.ExecuteWorkflow(protocol.WorkflowRPOWatchdog, protocol.RPOWatchdogInput{Interval: time.Minute, PageSize: 2, RoundsPerRun: 4})
	require.True(t, r.env.IsWorkflowCompleted())
	next := continuedInput[protocol.RPOWatchdogInput](t, r.env.GetWorkflowError())

	// 4 sweeps: 2 pages each, but the third stops at its failed first page.
	var afters []string
	for _, p := range r.pages {
		afters = append(afters, p.After)
		assert.Equal(t, 2, p.Limit)
	}
	assert.Equal(t, []string{"", "i2", "", "i2", "", "", "i2"}, afters)
	assert.Equal(t, r.pages[0].At, r.pages[1].At, "a sweep judges every page at one instant")
	assert.Equal(t, r.pages[1].Sweep, r.pages[0].Sweep)
	assert.NotEqual(t, r.pages[2].Sweep, r.pages[0].Sweep, "each sweep has its own name")
	assert.Equal(t, time.Minute, r.pages[2].At.Sub(r.pages[0].At), "sweeps an interval apart")
	require.Len(t, r.finishes, 3, "the failed sweep is not merged")
	assert.Equal(t, []string{protocol.RPOStateBreached, protocol.RPOStateOK}, r.states, "set on the first sweep and when the state changes")
	require.Len(t, r.notified, 2, "the webhook is told when the breaches change, not every sweep")
	assert.Equal(t, r.finishes[0].Sweep, r.notified[0].Sweep)
	assert.Equal(t, r.finishes[2].Sweep, r.notified[1].Sweep)

	require.NotNil(t, queried)
	assert.Equal(t, 1, queried.Breached)
	assert.Equal(t, []protocol.RPOBreach{breach}, queried.Worst)

	assert.Equal(t, 4, next.Sweeps)
	assert.Equal(t, time.Minute, next.Interval)
	assert.Equal(t, 4, next.RoundsPerRun)
	require.NotNil(t, next.Last)
	assert.Equal(t, 0, next.Last.Breached)
	assert.Equal(t, r.finishes[2].Sweep, next.Last.Sweep)
}

// A continued run answers the query with the summary it was handed until a sweep of its
// own succeeds (here its only sweep fails), and hands it on.
func TestRPOWatchdogCarriesItsLastSummary(t *testing.T) {
	r := newWatchdogRun(t, nil, 1)
	last := &protocol.RPOSweepSummary{Sweep: "before", Items: 3, Breached: 1}
	var queried *protocol.RPOSweepSummary
	r.env.RegisterDelayedCallback(func() {
		v, err := r.env.QueryWorkflow(protocol.QueryRPOWatchdog)
		require.NoError(t, err)
		require.NoError(t, v.Get(&queried))
	}, 30*time.Second)
	r.env.ExecuteWorkflow(protocol.WorkflowRPOWatchdog, protocol.RPOWatchdogInput{Interval: time.Minute, RoundsPerRun: 1, Sweeps: 12, Last: last})
	next := continuedInput[protocol.RPOWatchdogInput](t, r.env.GetWorkflowError())
	require.NotNil(t, queried)
	assert.Equal(t, "before", queried.Sweep)
	assert.Empty(t, r.states)
	assert.Empty(t, r.notified)
	assert.Empty(t, r.finishes)
	assert.Equal(t, 13, next.Sweeps)
	assert.Equal(t, last, next.Last)
}

// A too-short interval or a page too large is a named error, not a busy loop.
func TestRPOWatchdogRejectsBadInput(t *testing.T) {
	for _, in := range []protocol.RPOWatchdogInput{{Interval: time.Second}, {PageSize: protocol.MaxItemPageSize + 1}} {
		r := newWatchdogRun(t, nil, 0)
		r.env.ExecuteWorkflow(protocol.WorkflowRPOWatchdog, in)
		err := r.env.GetWorkflowError()
		var app *temporal.ApplicationError
		require.ErrorAs(t, err, &app)
		assert.Equal(t, protocol.ErrInvalidInput, app.Type())
		assert.Empty(t, r.pages)
	}
}
