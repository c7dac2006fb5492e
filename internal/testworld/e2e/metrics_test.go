package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Issue 15, part 1: the control worker and the agent, each the real worker binary with its
// own configuration, serve /metrics. Scraped during and after a backup and a restore, they
// show the listed series with the values the vault and the workflows say.
func TestMetricsFromBothRoles(t *testing.T) {
	t.Parallel()
	// The simulator's clock at real time, so the control process's RPO (real now minus the
	// newest restorable instant) is small and checkable.
	s := newStack(t, startingAt(time.Now().UTC().Truncate(time.Second)))
	control := s.startWorkerProcess("control")
	agent := s.startWorkerProcess("agent")
	s.putPolicy(dailyPolicy())
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Metered", DataPages: 2048})
	require.NoError(t, err)
	_, err = db.Write(40)
	require.NoError(t, err)

	// During the first full: the stream stalls after 2 MiB for a few seconds, and the agent
	// shows it in progress, its endpoint session open (URL path) and bytes already read.
	s.inst.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 2 << 20, Stall: 4 * time.Second})
	done := make(chan error, 1)
	go func() {
		out, errOut, err := s.starter("protect", "--vm", s.agentVM(), "--instance", vm, "--policy", "daily-30d", "Metered")
		if err != nil {
			err = fmt.Errorf("%w: %s %s", err, out, errOut)
		}
		done <- err
	}()
	require.Eventually(t, func() bool {
		m := scrape(t, agent)
		return value(m, metrics.AgentStreamsInProgress, "direction", "backup") == 1 && value(m, metrics.AgentBackupReadBytes) > 0
	}, 2*time.Minute, 100*time.Millisecond, "the agent shows the backup streaming")
	during := scrape(t, agent)
	assert.Equal(t, 1.0, value(during, metrics.AgentEndpointSessions, "kind", "backup"), "the backup's endpoint session")
	require.NoError(t, <-done)

	points := s.points(vm, "Metered")
	require.Len(t, points, 1, "the first full")
	p := points[0]
	var stored int64
	for _, st := range p.Stripes {
		stored += st.StoredBytes
	}
	require.Positive(t, stored)

	a := scrape(t, agent)
	assert.Equal(t, 1.0, value(a, metrics.AgentStreams, "direction", "backup", "type", "full", "outcome", "success"))
	assert.Equal(t, float64(stored), value(a, metrics.AgentBackupStoredBytes), "stored bytes are the point's")
	assert.GreaterOrEqual(t, value(a, metrics.AgentBackupReadBytes), float64(p.Backup.SizeBytes)*0.9, "read bytes are SQL Server's stream")
	assert.Equal(t, 1.0, count(a, metrics.AgentStreamDuration, "direction", "backup", "type", "full", "outcome", "success"))
	assert.Equal(t, 1.0, count(a, metrics.AgentStreamThroughput, "direction", "backup"))
	assert.Equal(t, 0.0, value(a, metrics.AgentStreamsInProgress, "direction", "backup"))
	assert.Equal(t, 0.0, value(a, metrics.AgentEndpointSessions, "kind", "backup"))
	assert.Equal(t, 0.0, value(a, metrics.AgentBlocksInFlight))
	assert.Equal(t, float64(128<<20), value(a, metrics.AgentMemoryLimit), "the default limit, no stripe held")
	assert.Positive(t, count(a, metrics.VaultOperationDuration, "op", "stage_block"))
	assert.Positive(t, value(a, "temporal_num_pollers", "poller_type", "activity_task"), "the SDK's own series")
	assert.Equal(t, 1.0, value(a, metrics.BuildInfo, "role", "agent"))

	// The control side: the Backup workflow's outcome, and the catalog's per-item series once
	// a refresh (every second here) has seen the point.
	item := vault.ItemID(vm, "Metered")
	var c map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		c = scrape(t, control)
		return value(c, metrics.ItemLastSuccess, "item", item, "kind", "full") > 0
	}, time.Minute, 200*time.Millisecond, "the catalog refresh sees the point")
	assert.Equal(t, 1.0, value(c, metrics.Backups, "type", "full", "outcome", "success", "workflow_type", protocol.WorkflowBackup))
	assert.Equal(t, 1.0, count(c, metrics.BackupDuration, "type", "full", "outcome", "success"))
	assert.Equal(t, float64(p.Backup.FinishTime.UnixNano())/1e9, value(c, metrics.ItemLastSuccess, "item", item, "kind", "full"),
		"last success is the point's finish")
	assert.Equal(t, 3600.0, value(c, metrics.ItemRPOTarget, "item", item), "the policy's log interval: the database is in FULL recovery")
	assert.Equal(t, 1.0, value(c, metrics.ItemPoints, "item", item, "sql_instance", vm, "database", "Metered"))
	rpo := value(c, metrics.ItemRPO, "item", item)
	sinceStart := time.Since(p.Backup.StartTime).Seconds()
	assert.InDelta(t, sinceStart, rpo, 30, "RPO is now minus the full's start, the newest restorable instant")
	assert.Equal(t, 1.0, value(c, metrics.CatalogRefreshSuccess))
	assert.Positive(t, count(c, metrics.VaultOperationDuration, "op", "put"), "the commit wrote the manifest")
	assert.Positive(t, value(c, "temporal_num_pollers", "poller_type", "workflow_task"))
	assert.Equal(t, 1.0, value(c, metrics.BuildInfo, "role", "control"))
	_, agentSeries := a[metrics.ItemRPO]
	assert.False(t, agentSeries, "per-item series come from the control role only")

	// A restore into a new database: one restore stream on the agent, one Restore on control.
	res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Metered", PointID: p.PointID, TargetDatabase: "Metered_copy"})
	require.NoError(t, err)
	require.Equal(t, "ONLINE", res.State)
	a = scrape(t, agent)
	assert.Equal(t, 1.0, value(a, metrics.AgentStreams, "direction", "restore", "type", "full", "outcome", "success"))
	assert.GreaterOrEqual(t, value(a, metrics.AgentRestoreReadBytes), float64(p.Backup.SizeBytes)*0.9, "SQL Server read the backup")
	assert.Equal(t, float64(stored), value(a, metrics.AgentBackupStoredBytes), "a restore stores nothing")
	c = scrape(t, control)
	assert.Equal(t, 1.0, value(c, metrics.Restores, "type", protocol.RestoreKindDatabase, "outcome", "success"))
	assert.Equal(t, 1.0, count(c, metrics.RestoreDuration, "type", protocol.RestoreKindDatabase, "outcome", "success"))
	assert.Equal(t, 0.0, value(c, metrics.Backups, "outcome", "failure"), "no backup failed")
}

// startWorkerProcess runs the worker binary in one role against the stack's services, with
// /metrics on a free loopback port, and returns that port's /metrics URL. A control process
// does not start the drill planner: its workflow ID is one per namespace and every stack
// shares the test server's, so a planner left polling one stack's queue would be the one
// another stack's start finds running. The test that drills starts one with
// startControlWithDrillPlanner.
func (s *stack) startWorkerProcess(role string) string {
	s.t.Helper()
	extra := ""
	if role == "control" {
		extra = "drillPlanner:\n  off: true\n"
	}
	return s.startWorkerProcessWith(role, extra)
}

// startControlWithDrillPlanner runs a control process that starts the drill planner (as a
// production control worker does), with a pass every second; the planner is terminated
// when the test ends, so no other stack finds it.
func (s *stack) startControlWithDrillPlanner() string {
	s.t.Helper()
	url := s.startWorkerProcessWith("control", "drillPlanner:\n  every: 1s\n")
	s.t.Cleanup(func() {
		_ = s.tc.TerminateWorkflow(context.Background(), protocol.DrillPlannerWorkflowID, "", "test over")
	})
	return url
}

// startWorkerProcessWith is startWorkerProcess with extra YAML appended to the configuration.
func (s *stack) startWorkerProcessWith(role, extraYAML string) string {
	s.t.Helper()
	return s.startWorkerProcessEnv(role, extraYAML, nil)
}

// startWorkerProcessEnv is startWorkerProcessWith with variables added to the process's
// environment. When env holds TEMPORAL_CONFIG_FILE, the configuration names no Temporal
// address or namespace: the worker takes them from that Temporal CLI profile.
func (s *stack) startWorkerProcessEnv(role, extraYAML string, env []string) string {
	s.t.Helper()
	fromProfile := false
	for _, kv := range env {
		fromProfile = fromProfile || strings.HasPrefix(kv, "TEMPORAL_CONFIG_FILE=")
	}
	bin := buildBinary(s.t, "./cmd/sqlvault-worker")
	dir := s.t.TempDir()
	port, err := testenv.FreePort()
	require.NoError(s.t, err)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	temporalSection := fmt.Sprintf("  address: %s\n  namespace: %s\n", s.temporal.HostPort, s.temporal.Namespace)
	if fromProfile {
		temporalSection = ""
	}
	cfg := fmt.Sprintf(`role: %s
temporal:
%s  controlTaskQueue: %s
vault:
  container: %s
  auth: connectionString
  connectionString: {env: SQLVAULT_VAULT_CONNECTION_STRING}
key:
  file: %s
metrics:
  listen: %s
  catalogRefresh: 1s
log:
  level: debug
  format: json
`, role, temporalSection, s.controlQueue(), s.container, s.keyFile, metricsAddr)
	if role == "agent" {
		listen, err := testenv.Loopback443()
		require.NoError(s.t, err)
		s.inst.SetHostsEntry(agentHost, testenv.LoopbackIP(listen))
		cfg += fmt.Sprintf(`agent:
  vm: %s
  endpoint:
    host: %s
    listen: %s
    certFile: %s
    keyFile: %s
  instances:
    - name: %s
      host: 127.0.0.1
      port: %d
      user: %s
      password: {env: SQLVAULT_SQL_PASSWORD}
      encrypt: disable
      dataPath: url
`, s.agentVM(), agentHost, listen, s.certFile, s.keyPEM, vm, s.inst.Port(), sqlLogin)
	}
	cfg += extraYAML
	cfgPath := filepath.Join(dir, role+".yaml")
	require.NoError(s.t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	logFile, err := os.Create(filepath.Join(dir, role+".log"))
	require.NoError(s.t, err)
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Env = append(os.Environ(), "SQLVAULT_VAULT_CONNECTION_STRING="+s.azurite.ConnectionString, "SQLVAULT_SQL_PASSWORD="+sqlPassword)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(s.t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	s.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if s.t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			s.t.Logf("%s worker log:\n%s", role, tail(string(b), 40))
		}
	})
	url := "http://" + metricsAddr + "/metrics"
	require.Eventually(s.t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 100*time.Millisecond, "the %s worker serves %s", role, url)
	return url
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// scrape reads a /metrics page as Prometheus would.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// value sums the family's samples whose labels include the given name/value pairs (0 when
// none): a counter's or gauge's value.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var sum float64
	for _, m := range matching(mfs, name, labels) {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// count sums a histogram's sample counts over the matching samples.
func count(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var n float64
	for _, m := range matching(mfs, name, labels) {
		n += float64(m.GetHistogram().GetSampleCount())
	}
	return n
}

func matching(mfs map[string]*dto.MetricFamily, name string, labels []string) []*dto.Metric {
	mf, ok := mfs[name]
	if !ok {
		return nil
	}
	var out []*dto.Metric
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}
