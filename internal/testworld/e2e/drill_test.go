package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Issue 15, part 3: restore drills on the real worker binaries. The drill planner, started
// by a control worker, drills an item of a policy with a drill at once (never drilled: its slot is
// past); the drill passes, is recorded in the vault, shown by `drills` and `status`, and
// exported. Then a page of the database is damaged, a full carries it, and a drill of that
// full fails DBCC CHECKDB: recorded as failed with CHECKDB's verdict, the metric says so,
// and no scratch database is left behind either time.
func TestRestoreDrills(t *testing.T) {
	t.Parallel()
	s := newStack(t, startingAt(time.Now().UTC().Truncate(time.Second)))
	control := s.startWorkerProcess("control")
	s.startWorkerProcess("agent")
	p := dailyPolicy()
	p.Name = "daily-drilled"
	p.Drill = &policy.DrillSpec{Every: protocol.DrillEveryWeekly, Pick: protocol.DrillPickNewest, MaxPerInstance: 1}
	s.putPolicy(p)
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Drilled", DataPages: 1024})
	require.NoError(t, err)
	_, err = db.Write(30)
	require.NoError(t, err)
	out, errOut, err := s.starter("protect", "--vm", s.agentVM(), "--instance", vm, "--policy", p.Name, "Drilled")
	require.NoError(t, err, "%s %s", out, errOut)
	points := s.points(vm, "Drilled")
	require.Len(t, points, 1, "the first full")
	item := vault.ItemID(vm, "Drilled")
	ctx := context.Background()

	// 1. A second control worker (a fleet runs several) starts the drill planner itself, now
	// that the item has its first full; the planner drills it, and it passes. `drills planner`
	// finds that planner running.
	s.startControlWithDrillPlanner()
	var plannerRun string
	require.Eventually(t, func() bool {
		d, err := s.tc.DescribeWorkflowExecution(ctx, protocol.DrillPlannerWorkflowID, "")
		if err != nil || d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return false
		}
		plannerRun = d.WorkflowExecutionInfo.Execution.RunId
		return true
	}, time.Minute, 200*time.Millisecond, "the control worker started the planner")
	out, errOut, err = s.starter("drills", "planner")
	require.NoError(t, err, "%s %s", out, errOut)
	assert.Contains(t, out, "drill planner "+protocol.DrillPlannerWorkflowID+" running (run "+plannerRun+")", "the running planner, not a second one")
	var passed *protocol.DrillRecord
	require.Eventually(t, func() bool {
		passed, err = s.repo.LastDrill(ctx, item)
		require.NoError(t, err)
		return passed != nil
	}, 3*time.Minute, 200*time.Millisecond, "the planner's drill is recorded")
	require.Equal(t, protocol.DrillPassed, passed.Outcome, "%+v", passed)
	assert.Equal(t, points[0].PointID, passed.PointID, "the newest point, proved")
	assert.Equal(t, protocol.DrillWorkflowID(item), passed.WorkflowID)
	assert.Contains(t, passed.CheckDB, "DBCC CHECKDB found no errors in Drilled_sqlvault_verify_")
	assert.Positive(t, passed.RestoreSeconds, "the measured restore time")
	assert.Equal(t, vm, passed.TargetInstance)
	assert.Empty(t, s.scratchOf("Drilled"), "the scratch database is dropped")
	waitClosed(t, s, protocol.DrillWorkflowID(item))
	record(t, "restore-drill-passed", s.history(protocol.DrillWorkflowID(item), ""))

	// The planner does not drill it again this week; cancelled, it stops.
	time.Sleep(3 * time.Second)
	again, err := s.repo.Drills(ctx, item)
	require.NoError(t, err)
	assert.Len(t, again, 1, "one drill a week")
	require.NoError(t, s.tc.CancelWorkflow(ctx, protocol.DrillPlannerWorkflowID, ""))
	err = s.tc.GetWorkflow(ctx, protocol.DrillPlannerWorkflowID, "").Get(ctx, nil)
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled)
	record(t, "drill-planner-cancelled", s.history(protocol.DrillPlannerWorkflowID, ""))

	out, errOut, err = s.starter("drills")
	require.NoError(t, err, errOut)
	assert.Regexp(t, `(?m)^`+vm+` +Drilled +\S+ \S+ +passed +`+vm+` +`+points[0].PointID+` +\S+ +\S+ \S+ +DBCC CHECKDB found no errors`, out)
	// The drill is RTO evidence: the fleet table shows its measured restore time.
	out, errOut, err = s.starter("status", "--fleet", "--direct")
	require.NoError(t, err, errOut)
	assert.Regexp(t, `(?m)^`+vm+`/Drilled .* `+regexp.QuoteMeta(rtoText(passed.RestoreSeconds))+`$`, out)
	out, errOut, err = s.starter("status")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "restore drills")
	assert.Regexp(t, `(?m)^`+vm+` +Drilled +\S+ \S+ +passed +`, out)

	c := scrapeUntil(t, control, func(v func(string, ...string) float64) bool {
		return v(metrics.DrillLastOutcome, "item", item, "outcome", protocol.DrillPassed) == 1
	})
	assert.Equal(t, 0.0, value(c, metrics.DrillLastOutcome, "item", item, "outcome", protocol.DrillFailed))
	assert.Equal(t, float64(passed.FinishedAt.UnixNano())/1e9, value(c, metrics.DrillLastSuccess, "item", item, "sql_instance", vm, "database", "Drilled"))
	assert.Equal(t, passed.RestoreSeconds, value(c, metrics.DrillRestoreSeconds, "item", item))

	// 2. A damaged page, carried by the next full: the drill of that full fails CHECKDB.
	db.Corrupt(7)
	s.clock.Advance(time.Minute)
	damaged := s.mustBackup(s.backupInput("Drilled", protocol.Full))
	out, errOut, err = s.starter("drills", "run", "--instance", vm, "--database", "Drilled", "--to-vm", s.agentVM(), "--wait")
	require.Error(t, err, "a failed drill fails the command: %s", out)
	assert.Contains(t, errOut, "restore drill of Drilled FAILED")
	assert.Contains(t, errOut, "8928", "CHECKDB's verdict is shown")
	last, lastPassed, err := s.repo.LastDrills(ctx, item)
	require.NoError(t, err)
	require.Equal(t, protocol.DrillFailed, last.Outcome, "%+v", last)
	assert.Equal(t, damaged.PointID, last.PointID, "recorded beside the point it failed to prove")
	assert.Contains(t, last.CheckDB, "8928")
	assert.Contains(t, last.CheckDB, "Page (1:7)", "the damaged page")
	assert.Positive(t, last.RestoreSeconds, "the restore itself succeeded")
	assert.Equal(t, passed, lastPassed, "the last passed drill stays on record")
	assert.Empty(t, s.scratchOf("Drilled"), "no scratch database left behind")
	record(t, "restore-drill-checkdb-failed", s.history(protocol.DrillWorkflowID(item), ""))

	c = scrapeUntil(t, control, func(v func(string, ...string) float64) bool {
		return v(metrics.DrillLastOutcome, "item", item, "outcome", protocol.DrillFailed) == 1
	})
	assert.Equal(t, 0.0, value(c, metrics.DrillLastOutcome, "item", item, "outcome", protocol.DrillPassed), "the alert's series: failed is 1, passed 0")
	assert.Equal(t, float64(passed.FinishedAt.UnixNano())/1e9, value(c, metrics.DrillLastSuccess, "item", item), "the last success is still the first drill")
	assert.Equal(t, last.RestoreSeconds, value(c, metrics.DrillRestoreSeconds, "item", item))
}

// waitClosed waits until the workflow's latest run has ended.
func waitClosed(t *testing.T, s *stack, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		d, err := s.tc.DescribeWorkflowExecution(context.Background(), id, "")
		return err == nil && d.WorkflowExecutionInfo.CloseTime != nil
	}, time.Minute, 100*time.Millisecond, "workflow %s ends", id)
}

// scrapeUntil scrapes url until ok holds (the catalog refresh runs every second here).
func scrapeUntil(t *testing.T, url string, ok func(v func(string, ...string) float64) bool) map[string]*dto.MetricFamily {
	t.Helper()
	var last map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		last = scrape(t, url)
		return ok(func(name string, labels ...string) float64 { return value(last, name, labels...) })
	}, time.Minute, 200*time.Millisecond, "scraping %s", url)
	return last
}

// rtoText is how the fleet table shows a measured restore time (starter's rtoText).
func rtoText(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
