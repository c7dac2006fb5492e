// Package protocol is sqlvault's public, versioned interface on Temporal: workflow and
// activity type names, task queues, search attributes, queries, the JSON inputs and results
// people send from the Temporal CLI or Web UI, and the named errors. Workflows, activities
// and the starter all speak it; changing a field's meaning is a breaking change.
package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/internal/domain"
)

// Workflow types (what `temporal workflow start --type` takes).
const (
	WorkflowBackup = "sqlvault.Backup"
)

// Activity types.
const (
	ActivityPrepareBackup       = "sqlvault.agent.PrepareBackup"
	ActivityStreamBackup        = "sqlvault.agent.StreamBackup"
	ActivityCommitRecoveryPoint = "sqlvault.control.CommitRecoveryPoint"
)

// Task queues. The control queue runs every workflow and the control activities; each VM's
// agent polls its own queue, and the workflow routes data-moving activities there.
const (
	DefaultControlTaskQueue = "sqlvault-control"
	AgentTaskQueuePrefix    = "sqlvault-agent-"
)

// AgentTaskQueue is the task queue of the agent on vm. The VM name is lower-cased: host
// names and @@SERVERNAME ignore case, task queue names do not.
func AgentTaskQueue(vm string) string { return AgentTaskQueuePrefix + strings.ToLower(vm) }

// Queries.
const (
	QueryProgress = "progress"
)

// Typed search attributes set on every backup run, so the UI and CLI can list by them.
// Register them on a real cluster with
//
//	temporal operator search-attribute create --name SqlvaultInstance --type Keyword (and the others)
var (
	SAInstance   = temporal.NewSearchAttributeKeyKeyword("SqlvaultInstance")
	SADatabase   = temporal.NewSearchAttributeKeyKeyword("SqlvaultDatabase")
	SABackupType = temporal.NewSearchAttributeKeyKeyword("SqlvaultBackupType")
	SAVM         = temporal.NewSearchAttributeKeyKeyword("SqlvaultVM")
	// SARPOState is set on the RPO watchdog's own execution: "breached" while its last sweep
	// found an item past its target, else "ok" (RPOState*), so the UI finds it with
	// SqlvaultRPOState = "breached".
	SARPOState = temporal.NewSearchAttributeKeyKeyword("SqlvaultRPOState")
)

// SearchAttributeNames lists the keyword search attributes to register.
var SearchAttributeNames = []string{"SqlvaultInstance", "SqlvaultDatabase", "SqlvaultBackupType", "SqlvaultVM", "SqlvaultRPOState"}

// BackupType is what a backup produces.
type BackupType string

// Backup types: the domain's kinds, and a copy-only full.
const (
	Full         BackupType = domain.Full
	Differential BackupType = domain.Differential
	Log          BackupType = domain.Log
	CopyOnlyFull BackupType = "copy-only-full"
)

// Valid reports whether t is a known backup type.
func (t BackupType) Valid() bool {
	switch t {
	case Full, Differential, Log, CopyOnlyFull:
		return true
	}
	return false
}

// Kind is what SQL Server produces, as recovery points record it: "full" (also for a
// copy-only full, which the manifest flags as copy-only), "differential" or "log".
func (t BackupType) Kind() string {
	if t == CopyOnlyFull {
		return string(Full)
	}
	return string(t)
}

// Lane is the concurrency lane: at most one data backup (full, differential, copy-only)
// and one log backup per database run at a time.
func (t BackupType) Lane() string {
	if t == Log {
		return "log"
	}
	return "data"
}

// BackupInput starts sqlvault.Backup. JSON example:
//
//	{"instance": "SQLVM1", "database": "SalesDB", "type": "full"}
type BackupInput struct {
	// Instance is the SQL Server instance as @@SERVERNAME shows it: "VM" or "VM\INSTANCE".
	Instance string `json:"instance"`
	// Database is the database name as sys.databases shows it.
	Database string     `json:"database"`
	Type     BackupType `json:"type"`
	// VM is the agent's VM name; default: the machine part of Instance.
	VM string `json:"vm,omitempty"`
	// Compression turns the agent's zstd on or off (default on).
	Compression *bool `json:"compression,omitempty"`
	// Stripes overrides the stripe count chosen from the database size (1–64).
	Stripes int `json:"stripes,omitempty"`
	// Reason is recorded on the recovery point (e.g. "on-demand", "schedule").
	Reason string `json:"reason,omitempty"`
	// RetainDays gives an on-demand backup its own retention: kept this many days, whatever
	// the policy (0: the policy decides, as for scheduled backups).
	RetainDays int `json:"retainDays,omitempty"`
	// AutoFull (set by the schedules): when a log or differential backup finds its chain
	// broken — recovery model switched to SIMPLE and back, a log or full taken by another
	// tool, no full yet — take a full instead and record why.
	AutoFull bool `json:"autoFull,omitempty"`
	// TailLog takes the log backup WITH NORECOVERY: the last log before a restore over the
	// database, which leaves it RESTORING (type must be log).
	TailLog bool `json:"tailLog,omitempty"`
	// ItemID (set by the schedules) is the vault item the backup belongs to: for a database
	// in an availability group, the group's item (ItemInstance), which Instance alone does
	// not name. It only tells the control side whose chain state to hand the agent; the
	// agent uses that state only when it names the item SQL Server's view gives.
	ItemID string `json:"itemId,omitempty"`
}

// AgentVM is the VM whose agent runs this backup.
func (in BackupInput) AgentVM() string {
	if in.VM != "" {
		return in.VM
	}
	machine, _, _ := strings.Cut(in.Instance, `\`)
	return machine
}

// Validate checks the input before anything runs.
func (in BackupInput) Validate() error {
	var problems []string
	if strings.TrimSpace(in.Instance) == "" {
		problems = append(problems, `"instance" is required (the SQL Server name as @@SERVERNAME shows it, e.g. "SQLVM1" or "SQLVM1\\INST2")`)
	}
	if in.Database == "" {
		problems = append(problems, `"database" is required`)
	}
	if !in.Type.Valid() {
		problems = append(problems, fmt.Sprintf(`"type" must be one of full, differential, log, copy-only-full (got %q)`, in.Type))
	}
	if in.RetainDays < 0 || in.RetainDays > 36500 {
		problems = append(problems, `"retainDays" must be between 0 and 36500`)
	}
	if in.TailLog && in.Type != Log {
		problems = append(problems, `"tailLog" is a log backup: use "type": "log"`)
	}
	if in.Stripes < 0 || in.Stripes > 64 {
		problems = append(problems, `"stripes" must be between 1 and 64 (leave it out to choose the count from the database size)`)
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid backup input: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ValidateNames checks every name the input carries (instance, database, VM) for what
// SQL Server and sqlvault's scripts cannot take safely: control characters, line breaks,
// more than 128 characters. Separate from Validate because released workflow code calls
// Validate; the workflows apply it behind workflow.GetVersion (workflows/input.go).
func (in BackupInput) ValidateNames() error {
	problems := nameProblems("instance", in.Instance, "database", in.Database, "vm", in.VM)
	if len(problems) > 0 {
		return fmt.Errorf("invalid backup input: %s", strings.Join(problems, "; "))
	}
	return nil
}

// BackupWorkflowID is the workflow ID the starter uses: one running data backup and one
// running log backup per database, enforced by Temporal's workflow-ID uniqueness.
func BackupWorkflowID(itemID string, t BackupType) string {
	return "sqlvault-backup-" + itemID + "-" + t.Lane()
}

// RecoveryPoint summarises a committed recovery point (the manifest has everything).
type RecoveryPoint struct {
	ItemID            string     `json:"itemId"`
	PointID           string     `json:"pointId"`
	Instance          string     `json:"instance"`
	Database          string     `json:"database"`
	Type              BackupType `json:"type"`
	FirstLSN          string     `json:"firstLsn"`
	LastLSN           string     `json:"lastLsn"`
	CheckpointLSN     string     `json:"checkpointLsn"`
	DatabaseBackupLSN string     `json:"databaseBackupLsn,omitempty"`
	StartTime         time.Time  `json:"startTime"`
	FinishTime        time.Time  `json:"finishTime"`
	SizeBytes         int64      `json:"sizeBytes"`
	StoredBytes       int64      `json:"storedBytes"`
	Stripes           int        `json:"stripes"`
	KeyID             string     `json:"keyId"`
	Reason            string     `json:"reason,omitempty"`
	// DataPath is how SQL Server's backup reached the agent: "url" (BACKUP … TO URL) or
	// "vdi" (TO VIRTUAL_DEVICE). Empty from control workers older than the field.
	DataPath string `json:"dataPath,omitempty"`
}

// BackupResult is sqlvault.Backup's result.
type BackupResult struct {
	RecoveryPoint RecoveryPoint `json:"recoveryPoint"`
}

// Backup phases, as the progress query reports them.
const (
	PhasePreparing  = "preparing"
	PhaseStreaming  = "streaming"
	PhaseCommitting = "committing"
	PhaseDone       = "done"
)

// BackupProgress is the answer to the "progress" query. The byte counts of a running
// stream are in the stream activity's heartbeat (StreamProgress), which `sqlvault backup
// --wait` reads from the workflow's pending activity.
type BackupProgress struct {
	Phase   string `json:"phase"`
	PointID string `json:"pointId,omitempty"`
	Stripes int    `json:"stripes,omitempty"`
}

// StreamProgress is the stream activity's heartbeat detail.
type StreamProgress struct {
	Percent int   `json:"percent"` // from SQL Server's STATS messages
	Bytes   int64 `json:"bytes"`   // bytes received from SQL Server
	Blocks  int   `json:"blocks"`
	Stored  int64 `json:"stored"` // bytes written to the vault (compressed, encrypted)
}

// presenceProblems: "stripes" is 1–64 when given; leave it out to choose from the size.
func (in *BackupInput) presenceProblems(keys map[string]json.RawMessage) []string {
	if _, ok := explicitly(keys, "stripes"); ok && in.Stripes == 0 {
		return []string{`"stripes" must be between 1 and 64; leave it out to choose the count from the database size`}
	}
	return nil
}

func (in *BackupInput) jsonExample() string {
	return `{"instance": "SQLVM1", "database": "SalesDB", "type": "full"}`
}
