package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Every declaration follows Prometheus' conventions: the sqlvault_ prefix, _total on
// counters only, a unit on histograms, and no label that would make a series per point or
// run.
func TestCatalogueNamesFollowConventions(t *testing.T) {
	valid := regexp.MustCompile(`^sqlvault_[a-z0-9_]+$`)
	seen := map[string]bool{}
	for _, d := range Catalogue {
		assert.Regexp(t, valid, d.Name)
		assert.False(t, seen[d.Name], "%s declared twice", d.Name)
		seen[d.Name] = true
		assert.Equal(t, d.Type == CounterType, strings.HasSuffix(d.Name, "_total"), "%s: _total is for counters only", d.Name)
		if d.Type == HistogramType {
			assert.Regexp(t, `_(seconds|bytes_per_second)$`, d.Name)
			assert.NotEmpty(t, d.Buckets, d.Name)
		}
		assert.NotEmpty(t, d.Help, d.Name)
		for _, l := range d.Labels {
			assert.NotContains(t, []string{"point", "point_id", "run_id", "workflow_id", "error_message", "instance", "job"}, l,
				"%s: %s is unbounded, or Prometheus' own", d.Name, l)
		}
	}
}

// The SDK series deploy/ relies on are names the SDK emits: each is one of the SDK's metric
// constants with the adapter's suffix.
func TestTemporalSeriesAreTheSDKs(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-json", "go.temporal.io/sdk").Output()
	require.NoError(t, err)
	var mod struct{ Dir string }
	require.NoError(t, json.Unmarshal(out, &mod))
	src, err := os.ReadFile(filepath.Join(mod.Dir, "internal", "common", "metrics", "constants.go"))
	require.NoError(t, err)
	// Constants are the prefix plus a name, or another constant plus a suffix
	// (TemporalRequestFailure = TemporalRequest + "_failure").
	byConst := map[string]string{}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=\s*(\w+) \+ "([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		base, ok := byConst[m[2]]
		if m[2] == "TemporalMetricsPrefix" {
			base, ok = "temporal_", true
		}
		if ok {
			byConst[m[1]] = base + m[3]
			names[base+m[3]] = true
		}
	}
	require.Greater(t, len(names), 20)
	for _, d := range TemporalSeries {
		base := d.Name
		switch d.Type {
		case CounterType:
			base = strings.TrimSuffix(base, "_total")
		case HistogramType:
			base = strings.TrimSuffix(base, "_seconds")
		}
		assert.True(t, names[base], "%s: the SDK has no metric %s", d.Name, base)
	}
}

// The SDK handler exports counters as _total, timers as _seconds histograms and gauges as
// they are, with tags as labels; series of one name with different tag sets share one
// family (missing labels empty).
func TestTemporalHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewTemporalHandler(reg)
	wf := h.WithTags(map[string]string{"namespace": "default", "workflow_type": "sqlvault.Backup"})
	wf.WithTags(map[string]string{protocol.MetricTagType: "full", protocol.MetricTagOutcome: "success"}).Counter(protocol.MetricBackups).Inc(1)
	wf.WithTags(map[string]string{protocol.MetricTagType: "full", protocol.MetricTagOutcome: "success"}).Counter(protocol.MetricBackups).Inc(2)
	h.Counter(protocol.MetricBackups).Inc(5) // no tags at all
	wf.WithTags(map[string]string{protocol.MetricTagType: "log", protocol.MetricTagOutcome: "failure"}).
		Timer(protocol.MetricBackupDuration).Record(90 * time.Second)
	h.WithTags(map[string]string{"poller_type": "activity_task"}).Gauge("temporal_num_pollers").Update(2)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sqlvault_backups_total Backup workflows that ended, by the type taken and outcome.
# TYPE sqlvault_backups_total counter
sqlvault_backups_total{namespace="",outcome="",type="",workflow_type=""} 5
sqlvault_backups_total{namespace="default",outcome="success",type="full",workflow_type="sqlvault.Backup"} 3
# HELP temporal_num_pollers Pollers the worker runs, by poller type.
# TYPE temporal_num_pollers gauge
temporal_num_pollers{poller_type="activity_task"} 2
`), "sqlvault_backups_total", "temporal_num_pollers"))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var hist *dto.Histogram
	for _, mf := range mfs {
		if mf.GetName() == BackupDuration {
			require.Len(t, mf.GetMetric(), 1)
			hist = mf.GetMetric()[0].GetHistogram()
		}
	}
	require.NotNil(t, hist, "the timer is the histogram %s", BackupDuration)
	assert.Equal(t, uint64(1), hist.GetSampleCount())
	assert.Equal(t, 90.0, hist.GetSampleSum())
	for _, b := range hist.GetBucket() {
		assert.Equal(t, b.GetUpperBound() >= 90, b.GetCumulativeCount() == 1, "bucket %v", b.GetUpperBound())
	}
	assert.Len(t, hist.GetBucket(), len(longDurationBuckets), "the catalogue's buckets for our own timer")
}

// Every store call is timed by operation and every failure counted by class, never by text.
func TestInstrumentStore(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := InstrumentStore(vault.NewMemStore(), reg)
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, "a", []byte("x"), vault.PutOptions{}))
	_, err := s.Get(ctx, "a")
	require.NoError(t, err)
	_, err = s.Get(ctx, "missing")
	require.ErrorIs(t, err, vault.ErrNotFound)
	require.Error(t, s.List(ctx, "", func(vault.BlobInfo) error { return errors.New("stop: a caller's own reason") }))

	assert.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, reg, VaultOperationErrors, "not_found", "get")))
	assert.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, reg, VaultOperationErrors, "other", "list")))
	assert.Equal(t, 2, testutil.CollectAndCount(reg, VaultOperationErrors))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() == VaultOperationDuration {
			for _, m := range mf.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	assert.Equal(t, map[string]uint64{"put": 1, "get": 2, "list": 1}, counts)
	assert.Equal(t, "unavailable", errorClass(fmt.Errorf("x: %w", vault.ErrUnavailable)))
	assert.Equal(t, "auth", errorClass(fmt.Errorf("x: %w", vault.ErrAuth)))
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	// labels are values in the order of their names, as the registry sorts them
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			if strings.Join(got, ",") == strings.Join(labels, ",") {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, m.GetCounter().GetValue)
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

// A stream counts its bytes live, its stored bytes at commit, and its outcome, duration and
// throughput when it ends; the gauges read their sources at each scrape.
func TestAgentStreams(t *testing.T) {
	reg := prometheus.NewRegistry()
	sessions := [2]int{1, 0}
	a := NewAgent(reg, AgentSources{EndpointSessions: func() (int, int) { return sessions[0], sessions[1] },
		MemoryLimit: func() int64 { return 160 << 20 }})
	s := a.StartStream(DirectionBackup, "full")
	assert.Equal(t, 1.0, testutil.ToFloat64(a.inProgress.WithLabelValues(DirectionBackup)))
	s.Read(4 << 20)
	s.Read(1 << 20)
	s.Stored(3 << 20)
	a.InFlight().Add(3)
	time.Sleep(5 * time.Millisecond)
	s.End(protocol.OutcomeSuccess)
	r := a.StartStream(DirectionRestore, "log")
	r.Read(100)
	r.End(protocol.OutcomeFailure)
	var nilAgent *Agent
	nilAgent.StartStream(DirectionBackup, "full").Read(10) // records nothing, panics not

	assert.Equal(t, float64(5<<20), testutil.ToFloat64(a.backupRead))
	assert.Equal(t, float64(3<<20), testutil.ToFloat64(a.stored))
	assert.Equal(t, 100.0, testutil.ToFloat64(a.restoreRead))
	assert.Equal(t, 1.0, testutil.ToFloat64(a.streams.WithLabelValues(DirectionBackup, "full", protocol.OutcomeSuccess)))
	assert.Equal(t, 1.0, testutil.ToFloat64(a.streams.WithLabelValues(DirectionRestore, "log", protocol.OutcomeFailure)))
	assert.Equal(t, 0.0, testutil.ToFloat64(a.inProgress.WithLabelValues(DirectionBackup)))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sqlvault_agent_blocks_in_flight Blocks being sealed and staged into the vault now, over every stripe (each costs about 8 MiB).
# TYPE sqlvault_agent_blocks_in_flight gauge
sqlvault_agent_blocks_in_flight 3
# HELP sqlvault_agent_endpoint_sessions Sessions open on the agent's blob endpoint (BACKUP/RESTORE … URL), by kind (backup, restore).
# TYPE sqlvault_agent_endpoint_sessions gauge
sqlvault_agent_endpoint_sessions{kind="backup"} 1
sqlvault_agent_endpoint_sessions{kind="restore"} 0
# HELP sqlvault_agent_memory_limit_bytes The soft memory limit the agent gives the Go runtime now, in bytes (agent.memoryLimitMiB plus its per-stripe raise; 0: none).
# TYPE sqlvault_agent_memory_limit_bytes gauge
sqlvault_agent_memory_limit_bytes 1.6777216e+08
`), AgentBlocksInFlight, AgentEndpointSessions, AgentMemoryLimit))
	// Throughput only for the successful stream: bytes over its duration.
	assert.Equal(t, 1, testutil.CollectAndCount(reg, AgentStreamThroughput))
}

// The listener serves the registry at /metrics in Prometheus' text format.
func TestListenServesMetrics(t *testing.T) {
	reg := NewRegistry("v1.2.3", "agent")
	srv, err := Listen("127.0.0.1:0", reg, nil)
	require.NoError(t, err)
	defer srv.Close()
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), `sqlvault_build_info{role="agent",version="v1.2.3"} 1`)
	assert.Contains(t, string(b), "go_goroutines")
	other, err := http.Get("http://" + srv.Addr() + "/")
	require.NoError(t, err)
	other.Body.Close()
	assert.Equal(t, http.StatusNotFound, other.StatusCode, "only /metrics is served")
}
