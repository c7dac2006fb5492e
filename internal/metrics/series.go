package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Type is a series' Prometheus type.
type Type string

const (
	CounterType   Type = "counter"
	GaugeType     Type = "gauge"
	HistogramType Type = "histogram"
)

// Role says which process's /metrics serves a series (a worker with role both serves all).
type Role string

const (
	RoleAgent   Role = "agent"
	RoleControl Role = "control"
	RoleAny     Role = "any" // every worker process
)

// Def declares one series.
type Def struct {
	Name    string
	Type    Type
	Role    Role
	Help    string
	Labels  []string
	Buckets []float64 // histograms only
	// ViaSDK: recorded by workflow code through the Temporal SDK's metrics handler, which
	// adds its own tags (namespace, task_queue, workflow_type) to Labels.
	ViaSDK bool
}

// Bucket sets. Durations of streams and workflows run from seconds (a small log backup) to
// hours (a multi-terabyte full); vault calls from milliseconds to a minute.
var (
	longDurationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 57600}
	vaultLatencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	throughputBuckets   = prometheus.ExponentialBuckets(1<<20, 2, 13) // 1 MiB/s … 4 GiB/s
	sdkLatencyBuckets   = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400}
	// sql_instance, not instance: Prometheus gives every scraped series an instance label of
	// its own (the target's host:port), and would rename ours to exported_instance.
	itemLabels           = []string{"item", "sql_instance", "database"}
	streamLabels         = []string{"direction", "type", "outcome"}
	workflowOutcomeLabel = []string{protocol.MetricTagType, protocol.MetricTagOutcome}
)

// Names of the product's series (the catalogue below holds their declarations).
const (
	BuildInfo = "sqlvault_build_info"

	AgentStreams           = "sqlvault_agent_streams_total"
	AgentStreamDuration    = "sqlvault_agent_stream_duration_seconds"
	AgentStreamThroughput  = "sqlvault_agent_stream_throughput_bytes_per_second"
	AgentStreamsInProgress = "sqlvault_agent_streams_in_progress"
	AgentBackupReadBytes   = "sqlvault_agent_backup_read_bytes_total"
	AgentBackupStoredBytes = "sqlvault_agent_backup_stored_bytes_total"
	AgentRestoreReadBytes  = "sqlvault_agent_restore_read_bytes_total"
	AgentBlocksInFlight    = "sqlvault_agent_blocks_in_flight"
	AgentEndpointSessions  = "sqlvault_agent_endpoint_sessions"
	AgentMemoryLimit       = "sqlvault_agent_memory_limit_bytes"

	VaultOperationDuration = "sqlvault_vault_operation_duration_seconds"
	VaultOperationErrors   = "sqlvault_vault_operation_errors_total"

	Backups         = protocol.MetricBackups + "_total"
	BackupDuration  = protocol.MetricBackupDuration + "_seconds"
	Restores        = protocol.MetricRestores + "_total"
	RestoreDuration = protocol.MetricRestoreDuration + "_seconds"

	ItemLastSuccess = "sqlvault_item_last_success_timestamp_seconds"
	ItemRPO         = "sqlvault_item_rpo_seconds"
	ItemRPOTarget   = "sqlvault_item_rpo_target_seconds"
	ItemPoints      = "sqlvault_item_recovery_points"

	// Restore drills (per item, from the drill records in the vault).
	DrillLastSuccess    = "sqlvault_drill_last_success_timestamp_seconds"
	DrillLastOutcome    = "sqlvault_drill_last_outcome"
	DrillRestoreSeconds = "sqlvault_drill_restore_seconds"

	CatalogItems          = "sqlvault_catalog_items"
	CatalogRefreshSuccess = "sqlvault_catalog_refresh_success"
	CatalogRefreshTime    = "sqlvault_catalog_refresh_timestamp_seconds"
	CatalogRefreshSeconds = "sqlvault_catalog_refresh_duration_seconds"

	// The RPO watchdog's (set by its FinishRPOSweep activity on the control worker).
	ItemRPOBreached     = "sqlvault_item_rpo_breached"
	RPOWatchdogSweep    = "sqlvault_rpo_watchdog_last_sweep_timestamp_seconds"
	RPOWatchdogItems    = "sqlvault_rpo_watchdog_items"
	RPOWatchdogBreaches = "sqlvault_rpo_watchdog_breaches"
)

// Catalogue is every series the product exports (the Temporal SDK's own, prefixed temporal_,
// are listed in TemporalSeries).
var Catalogue = []Def{
	{Name: BuildInfo, Type: GaugeType, Role: RoleAny, Help: "Always 1: the worker's version and role.", Labels: []string{"version", "role"}},

	{Name: AgentStreams, Type: CounterType, Role: RoleAgent, Labels: streamLabels,
		Help: "BACKUP and RESTORE streams (one per activity attempt) that ended, by direction (backup, restore), type (full, differential, log, copy-only-full) and outcome (success, failure, cancelled)."},
	{Name: AgentStreamDuration, Type: HistogramType, Role: RoleAgent, Labels: streamLabels, Buckets: longDurationBuckets,
		Help: "How long a BACKUP or RESTORE stream ran, from the activity's start to its end."},
	{Name: AgentStreamThroughput, Type: HistogramType, Role: RoleAgent, Labels: []string{"direction"}, Buckets: throughputBuckets,
		Help: "A successful stream's average throughput: the bytes SQL Server sent (backup) or read (restore), over the stream's duration."},
	{Name: AgentStreamsInProgress, Type: GaugeType, Role: RoleAgent, Labels: []string{"direction"},
		Help: "BACKUP and RESTORE streams running now."},
	{Name: AgentBackupReadBytes, Type: CounterType, Role: RoleAgent,
		Help: "Bytes of backup stream received from SQL Server, counted as each block arrives (rate() is the live backup throughput)."},
	{Name: AgentBackupStoredBytes, Type: CounterType, Role: RoleAgent,
		Help: "Bytes (compressed and sealed) of stripes committed to the vault: a point's stored bytes, counted when each stripe commits."},
	{Name: AgentRestoreReadBytes, Type: CounterType, Role: RoleAgent,
		Help: "Bytes of backup (decrypted) handed to SQL Server by restores, counted as SQL Server reads them."},
	{Name: AgentBlocksInFlight, Type: GaugeType, Role: RoleAgent,
		Help: "Blocks being sealed and staged into the vault now, over every stripe (each costs about 8 MiB)."},
	{Name: AgentEndpointSessions, Type: GaugeType, Role: RoleAgent, Labels: []string{"kind"},
		Help: "Sessions open on the agent's blob endpoint (BACKUP/RESTORE … URL), by kind (backup, restore)."},
	{Name: AgentMemoryLimit, Type: GaugeType, Role: RoleAgent,
		Help: "The soft memory limit the agent gives the Go runtime now, in bytes (agent.memoryLimitMiB plus its per-stripe raise; 0: none)."},

	{Name: VaultOperationDuration, Type: HistogramType, Role: RoleAny, Labels: []string{"op"}, Buckets: vaultLatencyBuckets,
		Help: "Latency of vault storage calls by operation (stage_block, commit_blocks, block_list, read_range, put, get, props, list, list_prefixes, delete), successful or not."},
	{Name: VaultOperationErrors, Type: CounterType, Role: RoleAny, Labels: []string{"op", "error"},
		Help: "Vault storage calls that failed, by operation and error class (not_found, exists, changed, range, invalid_block_list, auth, unavailable, canceled, other)."},

	{Name: Backups, Type: CounterType, Role: RoleControl, Labels: workflowOutcomeLabel, ViaSDK: true,
		Help: "Backup workflows that ended, by the type taken and outcome."},
	{Name: BackupDuration, Type: HistogramType, Role: RoleControl, Labels: workflowOutcomeLabel, ViaSDK: true, Buckets: longDurationBuckets,
		Help: "How long Backup workflows ran, by type and outcome."},
	{Name: Restores, Type: CounterType, Role: RoleControl, Labels: workflowOutcomeLabel, ViaSDK: true,
		Help: "Restore workflows that ended, by kind (database, verify, files) and outcome."},
	{Name: RestoreDuration, Type: HistogramType, Role: RoleControl, Labels: workflowOutcomeLabel, ViaSDK: true, Buckets: longDurationBuckets,
		Help: "How long Restore workflows ran (the measured restore time), by kind and outcome."},

	{Name: ItemLastSuccess, Type: GaugeType, Role: RoleControl, Labels: append(append([]string{}, itemLabels...), "kind"),
		Help: "Per protected item and kind (full, differential, log): the finish time (Unix seconds) of its newest recovery point of that kind in the vault."},
	{Name: ItemRPO, Type: GaugeType, Role: RoleControl, Labels: itemLabels,
		Help: "Per protected item: now minus its newest restorable instant, in seconds (with nothing restorable: now minus the time it was protected)."},
	{Name: ItemRPOTarget, Type: GaugeType, Role: RoleControl, Labels: itemLabels,
		Help: "Per protected item: the RPO its policy promises, in seconds (the log interval where the database takes log backups, else the full's interval)."},
	{Name: ItemPoints, Type: GaugeType, Role: RoleControl, Labels: itemLabels,
		Help: "Per protected item: recovery points in the vault."},

	{Name: DrillLastSuccess, Type: GaugeType, Role: RoleControl, Labels: itemLabels,
		Help: "Per protected item whose policy has a restore drill: when its last passed drill ended (Unix seconds); absent until one passed."},
	{Name: DrillLastOutcome, Type: GaugeType, Role: RoleControl, Labels: append(append([]string{}, itemLabels...), "outcome"),
		Help: "Per protected item whose policy has a restore drill: 1 for the outcome (passed, failed) of its last drill, 0 for the other; absent until its first drill."},
	{Name: DrillRestoreSeconds, Type: GaugeType, Role: RoleControl, Labels: itemLabels,
		Help: "Per protected item whose policy has a restore drill: how long its last drill that recovered the database took to restore it (the measured RTO), in seconds."},

	{Name: CatalogItems, Type: GaugeType, Role: RoleControl,
		Help: "Protected items the last catalog refresh found."},
	{Name: CatalogRefreshSuccess, Type: GaugeType, Role: RoleControl,
		Help: "1 if the last catalog refresh read the vault, 0 if it failed (the per-item series then keep the values of the last good one)."},
	{Name: CatalogRefreshTime, Type: GaugeType, Role: RoleControl,
		Help: "When the last successful catalog refresh ended (Unix seconds)."},
	{Name: CatalogRefreshSeconds, Type: GaugeType, Role: RoleControl,
		Help: "How long the last catalog refresh took."},

	{Name: ItemRPOBreached, Type: GaugeType, Role: RoleControl, Labels: append(append([]string{}, itemLabels...), "kind", "reason"),
		Help: "Per protected item the RPO watchdog's last sweep found past its target: 1, with the kind the target follows (log or full) and the reason (no-full, chain-broken, schedule-paused, schedule-missing, schedule-stuck, backups-late). Items within their target have no series."},
	{Name: RPOWatchdogSweep, Type: GaugeType, Role: RoleControl,
		Help: "When the RPO watchdog's last sweep finished (Unix seconds); older than a few intervals means the watchdog is not running."},
	{Name: RPOWatchdogItems, Type: GaugeType, Role: RoleControl,
		Help: "Protected items the RPO watchdog's last sweep judged."},
	{Name: RPOWatchdogBreaches, Type: GaugeType, Role: RoleControl,
		Help: "Protected items the RPO watchdog's last sweep found past their RPO target."},
}

// TemporalSeries are the Temporal SDK's series that deploy/ uses, as the SDK adapter exports
// them (temporal_ prefix from the SDK; _total for counters, _seconds for timers from the
// adapter). The SDK emits many more (every client and worker metric it has); these are the
// ones the rules and dashboard depend on, and a test checks each one against the SDK's own
// list of metric names.
var TemporalSeries = []Def{
	{Name: "temporal_request_total", Type: CounterType, Role: RoleAny, Help: "Temporal client requests."},
	{Name: "temporal_request_failure_total", Type: CounterType, Role: RoleAny, Help: "Temporal client requests that failed."},
	{Name: "temporal_activity_execution_failed_total", Type: CounterType, Role: RoleAny, Help: "Activity executions that failed."},
	{Name: "temporal_activity_execution_latency_seconds", Type: HistogramType, Role: RoleAny, Help: "Activity execution latency."},
	{Name: "temporal_activity_schedule_to_start_latency_seconds", Type: HistogramType, Role: RoleAny, Help: "Time an activity task waited for a worker."},
	{Name: "temporal_workflow_task_schedule_to_start_latency_seconds", Type: HistogramType, Role: RoleControl, Help: "Time a workflow task waited for a worker."},
	{Name: "temporal_workflow_task_execution_latency_seconds", Type: HistogramType, Role: RoleControl, Help: "Workflow task execution latency."},
	{Name: "temporal_num_pollers", Type: GaugeType, Role: RoleAny, Help: "Pollers the worker runs, by poller type."},
}

// Lookup finds a product series' declaration.
func Lookup(name string) (Def, bool) {
	for _, d := range Catalogue {
		if d.Name == name {
			return d, true
		}
	}
	return Def{}, false
}

// MustDef is Lookup for names this program declares: a missing one is a programming error.
func MustDef(name string) Def {
	d, ok := Lookup(name)
	if !ok {
		panic(fmt.Sprintf("metrics: series %s is not in the catalogue", name))
	}
	return d
}

// Exported reports the names of every series the code exports, product and SDK, with the
// suffixes a histogram adds (_bucket, _sum, _count): what a PromQL expression may select.
func Exported() map[string]Def {
	out := map[string]Def{}
	for _, list := range [][]Def{Catalogue, TemporalSeries} {
		for _, d := range list {
			out[d.Name] = d
			if d.Type == HistogramType {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					out[d.Name+s] = d
				}
			}
		}
	}
	return out
}

// CounterVec builds the declared counter, registered on reg.
func (d Def) CounterVec(reg prometheus.Registerer) *prometheus.CounterVec {
	d.must(CounterType)
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
	reg.MustRegister(v)
	return v
}

// GaugeVec builds the declared gauge, registered on reg.
func (d Def) GaugeVec(reg prometheus.Registerer) *prometheus.GaugeVec {
	d.must(GaugeType)
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, d.Labels)
	reg.MustRegister(v)
	return v
}

// HistogramVec builds the declared histogram, registered on reg.
func (d Def) HistogramVec(reg prometheus.Registerer) *prometheus.HistogramVec {
	d.must(HistogramType)
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: d.Buckets}, d.Labels)
	reg.MustRegister(v)
	return v
}

// GaugeFunc registers the declared label-less gauge, read from f at every scrape.
func (d Def) GaugeFunc(reg prometheus.Registerer, f func() float64) {
	d.must(GaugeType)
	if len(d.Labels) > 0 {
		panic(fmt.Sprintf("metrics: %s has labels; a GaugeFunc has none", d.Name))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, f))
}

// Desc is the declaration as a client_golang descriptor, for custom collectors.
func (d Def) Desc() *prometheus.Desc {
	return prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
}

func (d Def) must(t Type) {
	if d.Type != t {
		panic(fmt.Sprintf("metrics: %s is a %s, not a %s", d.Name, d.Type, t))
	}
}
