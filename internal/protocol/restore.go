package protocol

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// Restore's workflow and activity types.
const (
	WorkflowRestore = "sqlvault.Restore"

	ActivityPlanRestore     = "sqlvault.control.PlanRestore"
	ActivityPrepareRestore  = "sqlvault.agent.PrepareRestore"
	ActivityRestoreStep     = "sqlvault.agent.RestoreStep"
	ActivityRecoverDatabase = "sqlvault.agent.RecoverDatabase"
	ActivityRestoreAsFiles  = "sqlvault.agent.RestoreAsFiles"
	ActivityVerifyDatabase  = "sqlvault.agent.VerifyDatabase"
)

// Restore's named errors (user errors: never retried).
const (
	ErrNotRestorable        = "NotRestorable"
	ErrTargetExists         = "TargetDatabaseExists"
	ErrTargetInAG           = "TargetInAvailabilityGroup"
	ErrRestoreChainRejected = "RestoreChainRejected"
	ErrVerifyFailed         = "RestoredDatabaseCheckFailed"
	// ErrPlanMismatch: a step's manifest does not say what the plan was made from (the
	// listing's summary of that point disagrees with the manifest). The step refuses to run.
	ErrPlanMismatch = "RestorePlanDoesNotMatchManifest"
	// ErrAmbiguousServerTime: the instant lies in a log backup across which SQL Server's
	// clock changed its UTC offset (a daylight-saving change). STOPAT is a local time with no
	// offset, so the local time of the instant may name another instant in that log.
	ErrAmbiguousServerTime = "AmbiguousServerTime"
)

// RestoreInput starts sqlvault.Restore. JSON examples:
//
//	{"instance": "SQLVM1", "database": "SalesDB", "at": "2026-11-26T10:15:30Z", "targetDatabase": "SalesDB_copy"}
//	{"instance": "SQLVM1", "database": "SalesDB", "pointId": "20261126T101530Z-full-01a2", "overwrite": true}
type RestoreInput struct {
	// Instance and Database name the protected database (the source of the recovery points).
	Instance string `json:"instance"`
	Database string `json:"database"`
	// Exactly one of PointID (a recovery point) or At (an instant, on SQL Server's clock).
	PointID string     `json:"pointId,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	// Target: default the same instance and database (which then needs Overwrite).
	TargetInstance string `json:"targetInstance,omitempty"`
	TargetVM       string `json:"targetVm,omitempty"`
	TargetDatabase string `json:"targetDatabase,omitempty"`
	// Overwrite replaces an existing target. Restoring over the source database takes a
	// tail-log backup first (itself a recovery point) unless SkipTailLog.
	Overwrite bool `json:"overwrite,omitempty"`
	// ProtectionTag is the protection tag of the target database's item (ProtectionTag),
	// which an overwrite of a database under active protection must name (overwrite.go).
	ProtectionTag string `json:"protectionTag,omitempty"`
	SkipTailLog   bool   `json:"skipTailLog,omitempty"`
	// NoRecovery leaves the database RESTORING, to apply more logs later.
	NoRecovery bool `json:"noRecovery,omitempty"`
	// DataPath and LogPath place the files (default: the target instance's default folders,
	// when the database gets a new name or moves to another instance).
	DataPath string `json:"dataPath,omitempty"`
	LogPath  string `json:"logPath,omitempty"`
	// AsFilesDir writes the decrypted backups of the chain and a restore script to this
	// folder on the target VM instead of restoring.
	AsFilesDir string `json:"asFilesDir,omitempty"`
	// Verify restores into a scratch database, runs DBCC CHECKDB, reports and drops it.
	Verify bool `json:"verify,omitempty"`
	// AllowUnauthenticated also restores from legacy recovery points: written before the
	// vault authenticated its manifests, and not yet authenticated by `sqlvault vault
	// upgrade`. Never points whose authentication fails (ErrUnauthenticated). Their blocks
	// are still authenticated by their GCM tags as they are read.
	AllowUnauthenticated bool `json:"allowUnauthenticated,omitempty"`
}

// Target returns the effective target instance and database.
func (in RestoreInput) Target() (instance, database string) {
	instance, database = in.TargetInstance, in.TargetDatabase
	if instance == "" {
		instance = in.Instance
	}
	if database == "" {
		database = in.Database
	}
	return instance, database
}

// TargetAgentVM is the VM whose agent restores.
func (in RestoreInput) TargetAgentVM() string {
	if in.TargetVM != "" {
		return in.TargetVM
	}
	inst, _ := in.Target()
	machine, _, _ := strings.Cut(inst, `\`)
	return machine
}

// Validate checks the input before anything runs.
func (in RestoreInput) Validate() error {
	var problems []string
	if strings.TrimSpace(in.Instance) == "" || in.Database == "" {
		problems = append(problems, `"instance" and "database" (the protected database) are required`)
	}
	if (in.PointID == "") == (in.At == nil) {
		problems = append(problems, `give exactly one of "pointId" or "at"`)
	}
	if in.AsFilesDir != "" && (in.Overwrite || in.NoRecovery || in.Verify) {
		problems = append(problems, `"asFilesDir" writes files only: it does not combine with "overwrite", "noRecovery" or "verify"`)
	}
	if in.Verify && (in.NoRecovery || in.Overwrite) {
		problems = append(problems, `"verify" restores into a scratch database: it does not combine with "noRecovery" or "overwrite"`)
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid restore input: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ValidateNames checks every name and path the input carries for control characters and
// line breaks, and names for SQL Server's 128-character limit (see BackupInput.ValidateNames).
func (in RestoreInput) ValidateNames() error {
	problems := nameProblems("instance", in.Instance, "database", in.Database, "pointId", in.PointID,
		"targetInstance", in.TargetInstance, "targetVm", in.TargetVM, "targetDatabase", in.TargetDatabase)
	for _, p := range [][2]string{{"dataPath", in.DataPath}, {"logPath", in.LogPath}, {"asFilesDir", in.AsFilesDir}} {
		if p[1] != "" && strings.ContainsFunc(p[1], isLineOrControl) {
			problems = append(problems, fmt.Sprintf("%q holds a control character or line break (%s)", p[0], SafeForComment(p[1])))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid restore input: %s", strings.Join(problems, "; "))
	}
	return nil
}

// RestoreStepPlan is one RESTORE of the chain.
type RestoreStepPlan struct {
	PointID  string     `json:"pointId"`
	Type     string     `json:"type"` // full, differential, log
	FirstLSN string     `json:"firstLsn"`
	LastLSN  string     `json:"lastLsn"`
	StopAt   *time.Time `json:"stopAt,omitempty"`
	// StopAtLocal is StopAt on the clock of the server that wrote the log (its local time,
	// LocalTimeLayout), set on the one log step that stops inside its log: RESTORE LOG takes
	// STOPAT as a local datetime. Empty in plans made before it existed: StopAt's UTC
	// reading is used then, as it was.
	StopAtLocal string `json:"stopAtLocal,omitempty"`
	// SummaryDigest fingerprints everything the plan knew of the point
	// (vault.PointSummary.Digest): the step checks it, with Type and the LSNs, against the
	// manifest it restores from. Empty in plans made before it existed.
	SummaryDigest string `json:"summaryDigest,omitempty"`
}

// LocalTimeLayout writes a reading of SQL Server's clock (no offset: datetime has none).
const LocalTimeLayout = "2006-01-02T15:04:05.999999999"

// RestorePlan is the chain the planner chose.
type RestorePlan struct {
	ItemID string            `json:"itemId"`
	Steps  []RestoreStepPlan `json:"steps"`
	// Skipped names the recovery points the planner left out because they are not
	// authenticated ("<pointId>: <why>"): it planned as if they did not exist.
	Skipped []string `json:"skipped,omitempty"`
}

// PointIDs are the plan's points in step order (what a restore grant of the whole plan is
// bound to).
func (p RestorePlan) PointIDs() []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.PointID
	}
	return out
}

// PlanRestoreInput asks the control side for the chain.
type PlanRestoreInput struct {
	Instance string     `json:"instance"`
	Database string     `json:"database"`
	PointID  string     `json:"pointId,omitempty"`
	At       *time.Time `json:"at,omitempty"`
	// AllowUnauthenticated also plans with legacy points (RestoreInput.AllowUnauthenticated).
	AllowUnauthenticated bool `json:"allowUnauthenticated,omitempty"`
}

// PrepareRestoreInput asks the target agent whether the target may be restored.
type PrepareRestoreInput struct {
	TargetInstance string `json:"targetInstance"`
	TargetDatabase string `json:"targetDatabase"`
	Overwrite      bool   `json:"overwrite"`
	// SourceIsTarget: restoring over the protected database itself.
	SourceIsTarget bool `json:"sourceIsTarget"`
	SkipTailLog    bool `json:"skipTailLog"`
}

// PrepareRestoreResult says what the target is and whether a tail-log backup comes first.
type PrepareRestoreResult struct {
	TargetExists bool   `json:"targetExists"`
	TargetState  string `json:"targetState,omitempty"`
	NeedsTailLog bool   `json:"needsTailLog"`
}

// RestoreStepInput applies one step on the target.
type RestoreStepInput struct {
	TargetInstance string          `json:"targetInstance"`
	TargetDatabase string          `json:"targetDatabase"`
	ItemID         string          `json:"itemId"`
	Step           RestoreStepPlan `json:"step"`
	Index          int             `json:"index"` // 0-based
	Replace        bool            `json:"replace"`
	// Relocate moves the files to DataPath/LogPath (or the instance defaults) under names
	// made from the target database's name.
	Relocate bool   `json:"relocate"`
	DataPath string `json:"dataPath,omitempty"`
	LogPath  string `json:"logPath,omitempty"`
	// AllowUnauthenticated accepts a legacy manifest (RestoreInput.AllowUnauthenticated).
	AllowUnauthenticated bool `json:"allowUnauthenticated,omitempty"`
	// Grant is read access to this step's point (GrantRestore); nil: the agent's own credential.
	Grant *VaultGrant `json:"grant,omitempty"`
}

// RestoreStepResult reports one step.
type RestoreStepResult struct {
	// AlreadyApplied: the database showed this step was applied (a resumed restore).
	AlreadyApplied bool `json:"alreadyApplied,omitempty"`
}

// RecoverInput brings the target online.
type RecoverInput struct {
	TargetInstance string `json:"targetInstance"`
	TargetDatabase string `json:"targetDatabase"`
}

// RestoreAsFilesInput writes the chain's backups as files on the target VM.
type RestoreAsFilesInput struct {
	TargetInstance string      `json:"targetInstance"`
	TargetDatabase string      `json:"targetDatabase"`
	Dir            string      `json:"dir"`
	Plan           RestorePlan `json:"plan"`
	Relocate       bool        `json:"relocate"`
	DataPath       string      `json:"dataPath,omitempty"`
	LogPath        string      `json:"logPath,omitempty"`
	// AllowUnauthenticated accepts legacy manifests (RestoreInput.AllowUnauthenticated).
	AllowUnauthenticated bool `json:"allowUnauthenticated,omitempty"`
	// Grant is read access to every point of the plan (GrantRestore); nil: the agent's own credential.
	Grant *VaultGrant `json:"grant,omitempty"`
}

// RestoreAsFilesResult lists the files and the T-SQL that restores them by hand.
type RestoreAsFilesResult struct {
	Files  []string `json:"files"`
	Script string   `json:"script"` // path of restore.sql
	Bytes  int64    `json:"bytes"`
}

// VerifyDatabaseInput runs DBCC CHECKDB on a restored database (and drops it if asked).
type VerifyDatabaseInput struct {
	TargetInstance string `json:"targetInstance"`
	Database       string `json:"database"`
	Drop           bool   `json:"drop"`
}

// VerifyDatabaseResult is the check's outcome.
type VerifyDatabaseResult struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// RestoreResult is sqlvault.Restore's result.
type RestoreResult struct {
	TargetInstance string                `json:"targetInstance"`
	TargetDatabase string                `json:"targetDatabase"`
	Steps          []RestoreStepPlan     `json:"steps"`
	State          string                `json:"state,omitempty"` // ONLINE or RESTORING
	TailLog        *RecoveryPoint        `json:"tailLog,omitempty"`
	Files          *RestoreAsFilesResult `json:"files,omitempty"`
	Verify         *VerifyDatabaseResult `json:"verify,omitempty"`
	// Skipped: the points the plan left out as not authenticated (RestorePlan.Skipped).
	Skipped []string `json:"skipped,omitempty"`
	// RestoreSeconds is the time from the start to a recovered database (workflow time):
	// a restore drill's measured RTO. 0 when the run did not recover one.
	RestoreSeconds float64 `json:"restoreSeconds,omitempty"`
}

// Restore phases.
const (
	PhasePlanning  = "planning"
	PhaseTailLog   = "tail-log backup"
	PhaseRestoring = "restoring"
	PhaseRecovery  = "recovering"
	PhaseVerifying = "verifying"
	PhaseWriting   = "writing files"
)

// RestoreProgress answers the "progress" query of a restore: step i of n.
type RestoreProgress struct {
	Phase   string `json:"phase"`
	Step    int    `json:"step"` // 1-based, 0 before the first
	Steps   int    `json:"steps"`
	PointID string `json:"pointId,omitempty"`
}

func (in *RestoreInput) jsonExample() string {
	return `{"instance": "SQLVM1", "database": "SalesDB", "at": "2026-11-26T10:15:30Z", "targetDatabase": "SalesDB_copy"}`
}

// TailLogWorkflowID is the workflow ID of the tail-log backup a Restore over the protected
// database starts as its child. The Backup workflow accepts "tailLog" only in a child whose
// ID is this of its parent: BACKUP LOG … WITH NORECOVERY leaves the database RESTORING, so
// it is a step of a restore that overwrites it, never something a CLI or Web UI start may ask.
func TailLogWorkflowID(restoreWorkflowID string) string { return restoreWorkflowID + "-tail-log" }

// IsTailLogChild reports whether a Backup run with this workflow ID and parent is the
// tail-log step of a Restore (see TailLogWorkflowID).
func IsTailLogChild(workflowID, parentWorkflowID string) bool {
	return parentWorkflowID != "" && workflowID == TailLogWorkflowID(parentWorkflowID)
}

// verifyScratchMarker sits between the source name and the run's 12 hex digits in the name
// of a verify-restore's scratch database.
const verifyScratchMarker = "_sqlvault_verify_"

// VerifyScratchName is the scratch database a verify-restore of database restores into:
// derived from the run, so a retry finds the same one, and recognisable, so that the agent
// drops only databases with such a name (IsVerifyScratchName). runTag is the run's 12 hex
// digits (the workflow picks which: see workflows.runTag); a longer value, such as a whole
// run ID, is cut to its first 12. The source name is cut so the whole stays within SQL
// Server's 128 characters.
func VerifyScratchName(database, runTag string) string {
	r := strings.ReplaceAll(runTag, "-", "")
	if len(r) > 12 {
		r = r[:12]
	}
	suffix := verifyScratchMarker + r
	prefix := []rune(database)
	for len(utf16.Encode(prefix))+len(suffix) > MaxNameLength {
		prefix = prefix[:len(prefix)-1]
	}
	return string(prefix) + suffix
}

// IsVerifyScratchNameOf reports whether name is a scratch database VerifyScratchName makes
// for database (in some run): the drop after a failed verify-restore drops nothing else.
func IsVerifyScratchNameOf(database, name string) bool {
	if !IsVerifyScratchName(name) {
		return false
	}
	tag := name[len(name)-12:]
	return VerifyScratchName(database, tag) == name
}

// IsVerifyScratchName reports whether name has the shape VerifyScratchName gives: the
// marker followed by exactly 12 lower-case hex digits at its end.
func IsVerifyScratchName(name string) bool {
	i := strings.LastIndex(name, verifyScratchMarker)
	if i < 0 {
		return false
	}
	tail := name[i+len(verifyScratchMarker):]
	if len(tail) != 12 {
		return false
	}
	for _, c := range tail {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ServerStopAt is the step's STOPAT as RESTORE LOG takes it (the server's local time), or nil.
func (step RestoreStepPlan) ServerStopAt() (*time.Time, error) {
	if step.StopAtLocal != "" {
		t, err := time.Parse(LocalTimeLayout, step.StopAtLocal)
		if err != nil {
			return nil, UserError(ErrInvalidInput,
				"step %s: stopAtLocal %q is not a local time like 2026-11-01T01:30:30.5 (the plan was not made by PlanRestore)", step.PointID, step.StopAtLocal)
		}
		return &t, nil
	}
	if step.StopAt == nil {
		return nil, nil
	}
	// A plan made before StopAtLocal: its points' times were the server's local time read
	// as UTC, and so was the instant asked for.
	t := step.StopAt.UTC()
	return &t, nil
}
