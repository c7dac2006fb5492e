package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/sqlvault/sqlvault/activities/control"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/workflows"
)

// webhookSink is a local webhook: it fails its first request (503), then records each.
type webhookSink struct {
	mu       sync.Mutex
	requests int
	bodies   [][]byte
	tokens   []string
}

func (w *webhookSink) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests++
	if w.requests == 1 {
		rw.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.bodies = append(w.bodies, body)
	w.tokens = append(w.tokens, r.Header.Get("X-Webhook-Token"))
}

func (w *webhookSink) snapshot() (int, [][]byte, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests, append([][]byte{}, w.bodies...), append([]string{}, w.tokens...)
}

// TestRPOWatchdogRaisesAPausedDatabase: two databases protected under hourly logs; the
// schedules of one are paused (as a failover pauses them) and its only backup is three
// hours old. The watchdog's sweep finds it breached, names the paused schedule with the
// command that resumes it, and raises it everywhere: its query and the vault's report, the
// breach series, `sqlvault status --fleet` (from the report, and judged directly), and the
// webhook, which fails once and is retried. The healthy database is ok throughout.
func TestRPOWatchdogRaisesAPausedDatabase(t *testing.T) {
	t.Parallel()
	s := newStack(t, startingAt(time.Now().UTC().Add(-3*time.Hour).Truncate(time.Second)))
	sink := &webhookSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	secretFile := filepath.Join(t.TempDir(), "webhook.token")
	require.NoError(t, os.WriteFile(secretFile, []byte("tok-123\n"), 0o600))
	reg := prometheus.NewRegistry()

	// The control worker as the worker process wires it, with the breach series and webhook.
	w := worker.New(s.tc, s.controlQueue(), worker.Options{})
	workflows.Register(w)
	(&control.Control{Vault: s.repo, Log: s.log, Temporal: s.tc, ControlQueue: s.controlQueue(), Now: s.clock.Now,
		RPOMetrics: rpowatch.NewMetrics(reg),
		RPOWebhook: &rpowatch.Webhook{URL: srv.URL, Header: "X-Webhook-Token", SecretFile: secretFile}}).Register(w)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	s.startAgent()
	s.putPolicy(dailyPolicy()) // hourly logs: a one-hour target
	for _, db := range []string{"Stalled", "Healthy"} {
		_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: db, DataPages: 16})
		require.NoError(t, err)
	}
	ctx := context.Background()
	// Stalled is protected (and gets its first full) three hours ago, then its schedules are
	// paused; Healthy half an hour ago.
	out, errOut, err := s.starter("protect", "--vm", s.agentVM(), "--instance", vm, "--policy", "daily-30d", "Stalled")
	require.NoError(t, err, "%s\n%s", out, errOut)
	stalled := vault.ItemID(vm, "Stalled")
	for _, kind := range []string{policy.KindFull, policy.KindLog} {
		require.NoError(t, s.tc.ScheduleClient().GetHandle(ctx, protocol.ItemScheduleID(stalled, kind)).
			Pause(ctx, client.SchedulePauseOptions{Note: "paused by failover to SQLVM2"}))
	}
	s.clock.Advance(2*time.Hour + 30*time.Minute)
	out, errOut, err = s.starter("protect", "--vm", s.agentVM(), "--instance", vm, "--policy", "daily-30d", "Healthy")
	require.NoError(t, err, "%s\n%s", out, errOut)
	require.Len(t, s.points(vm, "Stalled"), 1)
	require.Len(t, s.points(vm, "Healthy"), 1)

	id := "sqlvault-rpo-watchdog-" + s.container
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.controlQueue()},
		protocol.WorkflowRPOWatchdog, protocol.RPOWatchdogInput{Interval: 10 * time.Second, RoundsPerRun: 2, PageSize: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.tc.TerminateWorkflow(context.Background(), id, "", "test over") })

	// The watchdog's own view.
	var sum *protocol.RPOSweepSummary
	require.Eventually(t, func() bool {
		v, err := s.tc.QueryWorkflow(ctx, id, "", protocol.QueryRPOWatchdog)
		return err == nil && v.Get(&sum) == nil && sum != nil
	}, time.Minute, 200*time.Millisecond)
	assert.Equal(t, 2, sum.Items)
	assert.Equal(t, 1, sum.Breached)
	require.Len(t, sum.Worst, 1)
	assert.Equal(t, "Stalled", sum.Worst[0].Database)
	assert.Equal(t, protocol.RPOReasonSchedulePaused, sum.Worst[0].Reason)
	assert.Equal(t, int64(3600), sum.Worst[0].TargetSeconds)
	assert.Greater(t, sum.Worst[0].RPOSeconds, int64(3*3600-120))

	// The report in the vault, worst first, with what to do.
	doc, err := s.repo.RPOReport(ctx)
	require.NoError(t, err)
	var rep rpowatch.Report
	require.NoError(t, json.Unmarshal(doc, &rep))
	require.Len(t, rep.Findings, 2)
	assert.Equal(t, protocol.RPOStateBreached, rep.Findings[0].State)
	assert.Contains(t, rep.Findings[0].Detail, "paused (paused by failover to SQLVM2)")
	assert.Contains(t, rep.Findings[0].Detail, "temporal schedule toggle --schedule-id "+protocol.ItemScheduleID(stalled, policy.KindFull)+" --unpause")
	assert.Equal(t, "Healthy", rep.Findings[1].Database)
	assert.Equal(t, protocol.RPOStateOK, rep.Findings[1].State)

	// The breach series: Stalled only.
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sqlvault_item_rpo_breached Per protected item the RPO watchdog's last sweep found past its target: 1, with the kind the target follows (log or full) and the reason (no-full, chain-broken, schedule-paused, schedule-missing, schedule-stuck, backups-late). Items within their target have no series.
# TYPE sqlvault_item_rpo_breached gauge
sqlvault_item_rpo_breached{database="Stalled",item="`+stalled+`",kind="log",reason="schedule-paused",sql_instance="`+vm+`"} 1
# HELP sqlvault_rpo_watchdog_breaches Protected items the RPO watchdog's last sweep found past their RPO target.
# TYPE sqlvault_rpo_watchdog_breaches gauge
sqlvault_rpo_watchdog_breaches 1
# HELP sqlvault_rpo_watchdog_items Protected items the RPO watchdog's last sweep judged.
# TYPE sqlvault_rpo_watchdog_items gauge
sqlvault_rpo_watchdog_items 2
`), "sqlvault_item_rpo_breached", "sqlvault_rpo_watchdog_breaches", "sqlvault_rpo_watchdog_items"))

	// The webhook: the first POST failed (503) and was retried; the JSON names the breach,
	// with the secret header read from the file.
	require.Eventually(t, func() bool { _, bodies, _ := sink.snapshot(); return len(bodies) > 0 }, time.Minute, 200*time.Millisecond)
	requests, bodies, tokens := sink.snapshot()
	assert.GreaterOrEqual(t, requests, 2, "the failed POST was retried")
	assert.Equal(t, "tok-123", tokens[0])
	var payload struct {
		Schema   string `json:"schema"`
		Items    int    `json:"items"`
		Breached []struct {
			Database, State, Reason, Detail string
			Target                          time.Duration
		} `json:"breached"`
	}
	require.NoError(t, json.Unmarshal(bodies[0], &payload), "%s", bodies[0])
	assert.Equal(t, rpowatch.PayloadSchema, payload.Schema)
	assert.Equal(t, 2, payload.Items)
	require.Len(t, payload.Breached, 1)
	assert.Equal(t, "Stalled", payload.Breached[0].Database)
	assert.Equal(t, protocol.RPOReasonSchedulePaused, payload.Breached[0].Reason)
	assert.Equal(t, time.Hour, payload.Breached[0].Target)

	// `sqlvault status --fleet`: from the report, then judged by the CLI itself.
	for _, args := range [][]string{{"status", "--fleet", "--json"}, {"status", "--fleet", "--direct", "--json"}} {
		out, errOut, err := s.starter(args...)
		require.NoError(t, err, errOut)
		var fleet struct {
			Source   string
			Findings []rpowatch.Finding
		}
		require.NoError(t, json.Unmarshal([]byte(out), &fleet), out)
		require.Len(t, fleet.Findings, 2, out)
		assert.Equal(t, "Stalled", fleet.Findings[0].Database, out)
		assert.Equal(t, protocol.RPOStateBreached, fleet.Findings[0].State)
		assert.Equal(t, protocol.RPOReasonSchedulePaused, fleet.Findings[0].Reason)
		assert.Equal(t, protocol.RPOStateOK, fleet.Findings[1].State)
		if len(args) == 3 {
			assert.Equal(t, "watchdog", fleet.Source)
		} else {
			assert.Equal(t, "direct", fleet.Source)
		}
	}
	out, errOut, err = s.starter("status", "--fleet")
	require.NoError(t, err, errOut)
	assert.Regexp(t, `(?m)^ITEM +KIND +LAST GOOD +RPO NOW +TARGET +STATE +REASON +LAST RTO\n`+vm+`/Stalled +log +\S+ \S+ +3h\S* +1h0m0s +breached +schedule-paused +-\n`+vm+`/Healthy +log +\S+ \S+ +\S+ +1h0m0s +ok +- +-\n`, out)
	assert.Contains(t, out, vm+"/Stalled: schedule "+protocol.ItemScheduleID(stalled, policy.KindFull)+" is paused")

	// The first run continues as new after two sweeps; its history is the replay fixture.
	require.Eventually(t, func() bool {
		d, err := s.tc.DescribeWorkflowExecution(ctx, id, run.GetRunID())
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
	}, time.Minute, 500*time.Millisecond)
	h := s.history(id, run.GetRunID())
	record(t, "rpo-watchdog-breach", h)
	assert.Equal(t, map[string]int32{protocol.ActivityCheckRPOPage: 1, protocol.ActivityFinishRPOSweep: 1, protocol.ActivityNotifyRPO: 2},
		activityAttempts(h), "pages of one item: two a sweep; the webhook's first attempt failed")
}
