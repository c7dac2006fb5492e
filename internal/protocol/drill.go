package protocol

import (
	"fmt"
	"strings"
	"time"
)

// Restore drills: sqlvault.RestoreDrill proves one protected database restorable by
// restoring a point or an instant of it as a scratch database (sqlvault.Restore with
// Verify), running DBCC CHECKDB, recording the result in the vault beside the point it
// proved, and dropping the scratch database.
const (
	WorkflowRestoreDrill = "sqlvault.RestoreDrill"
	WorkflowDrillPlanner = "sqlvault.DrillPlanner"

	// ActivityPickDrillTarget (control) chooses what a drill restores: the item's newest
	// recovery point, or an instant of its restorable range in the last days.
	ActivityPickDrillTarget = "sqlvault.control.PickDrillTarget"
	// ActivityRecordDrill (control) stores a drill's result in the vault.
	ActivityRecordDrill = "sqlvault.control.RecordDrill"
	// ActivityPlanDrills (control) lists the items whose policy has a drill and returns the
	// drills due now, within each policy's per-instance bound (internal/control/policy).
	ActivityPlanDrills = "sqlvault.control.PlanDrills"

	// ErrDrillFailed: the drill ran and the database did not prove restorable (the restore
	// failed, or DBCC CHECKDB found errors). The drill's record says which.
	ErrDrillFailed = "RestoreDrillFailed"
)

// Drill outcomes, as recorded and exported (sqlvault_drill_last_outcome's outcome label).
const (
	DrillPassed = "passed"
	DrillFailed = "failed"
)

// DrillWorkflowID is the workflow ID of an item's drill: one at a time per item.
func DrillWorkflowID(itemID string) string { return "sqlvault-drill-" + itemID }

// DrillPlannerWorkflowID is the single drill planner's workflow ID.
const DrillPlannerWorkflowID = "sqlvault-drill-planner"

// RestoreDrillInput starts sqlvault.RestoreDrill. JSON example:
//
//	{"instance": "SQLVM1", "database": "SalesDB", "pick": "newest", "targetInstance": "DRILLVM\\SCRATCH", "targetVm": "DRILLVM"}
type RestoreDrillInput struct {
	Instance string `json:"instance"`
	Database string `json:"database"`
	// Pick and RandomInstantDays as in DrillSpec (default newest).
	Pick              string `json:"pick,omitempty"`
	RandomInstantDays int    `json:"randomInstantDays,omitempty"`
	// TargetInstance and TargetVM: where the scratch database is restored (default the
	// protected database's own instance and VM).
	TargetInstance string `json:"targetInstance,omitempty"`
	TargetVM       string `json:"targetVm,omitempty"`
}

// Validate checks the input before anything runs.
func (in RestoreDrillInput) Validate() error {
	var problems []string
	if strings.TrimSpace(in.Instance) == "" || in.Database == "" {
		problems = append(problems, `"instance" and "database" (the protected database) are required`)
	}
	switch in.Pick {
	case "", DrillPickNewest:
		if in.RandomInstantDays != 0 {
			problems = append(problems, fmt.Sprintf(`"randomInstantDays" only with "pick": %q`, DrillPickRandomInstant))
		}
	case DrillPickRandomInstant:
		if in.RandomInstantDays < 1 {
			problems = append(problems, `"randomInstantDays" must be 1 or more with "pick": "randomInstant"`)
		}
	default:
		problems = append(problems, fmt.Sprintf(`"pick" %q is not a drill pick; use %q or %q`, in.Pick, DrillPickNewest, DrillPickRandomInstant))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid restore drill input: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ValidateNames checks the names for control characters, line breaks and SQL Server's
// length limit (as RestoreInput.ValidateNames; callers outside workflow code run it).
func (in RestoreDrillInput) ValidateNames() error {
	if problems := nameProblems("instance", in.Instance, "database", in.Database,
		"targetInstance", in.TargetInstance, "targetVm", in.TargetVM); len(problems) > 0 {
		return fmt.Errorf("invalid restore drill input: %s", strings.Join(problems, "; "))
	}
	return nil
}

// PickDrillTargetInput asks what a drill restores. Now is the workflow's time and Fraction
// (in [0, 1)) chooses the instant of a random-instant drill, both from the workflow, so the
// activity itself draws nothing.
type PickDrillTargetInput struct {
	Instance          string    `json:"instance"`
	Database          string    `json:"database"`
	Pick              string    `json:"pick"`
	RandomInstantDays int       `json:"randomInstantDays,omitempty"`
	Now               time.Time `json:"now"`
	Fraction          float64   `json:"fraction"`
}

// PickDrillTargetResult is what the drill restores: a point or an instant.
type PickDrillTargetResult struct {
	ItemID  string     `json:"itemId"`
	PointID string     `json:"pointId,omitempty"`
	At      *time.Time `json:"at,omitempty"`
}

// DrillRecord is one drill's result, stored in the vault beside the point it proved
// (vault.DrillBlob) and returned by sqlvault.RestoreDrill.
type DrillRecord struct {
	ItemID   string `json:"itemId"`
	Instance string `json:"instance"`
	Database string `json:"database"`
	// PointID is the point the restore ended on (the last step of its chain); empty when
	// the drill failed before a chain was planned.
	PointID string     `json:"pointId,omitempty"`
	At      *time.Time `json:"at,omitempty"` // the instant restored, for a random-instant drill
	// TargetInstance and ScratchDatabase: where it was restored (and dropped).
	TargetInstance  string    `json:"targetInstance"`
	ScratchDatabase string    `json:"scratchDatabase,omitempty"`
	StartedAt       time.Time `json:"startedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
	// RestoreSeconds is the restore's duration up to a recovered database (the measured
	// RTO); 0 when the restore did not get there.
	RestoreSeconds float64 `json:"restoreSeconds,omitempty"`
	Outcome        string  `json:"outcome"` // DrillPassed or DrillFailed
	// CheckDB is DBCC CHECKDB's verdict ("" when it did not run), Error why the drill
	// failed otherwise.
	CheckDB string `json:"checkDb,omitempty"`
	Error   string `json:"error,omitempty"`
	// WorkflowID and RunID name the drill's run (in the record, never in a metric label).
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
}

// DrillCandidatesResult lists the items the planner may drill.
type DrillCandidatesResult struct {
	Items []DrillCandidate `json:"items"`
}

// DrillCandidate is one item with a drill in its policy.
type DrillCandidate struct {
	ItemID   string     `json:"itemId"`
	Instance string     `json:"instance"`
	Database string     `json:"database"`
	VM       string     `json:"vm"`
	Drill    DrillSpec  `json:"drill"`
	Last     *time.Time `json:"last,omitempty"` // start of the last drill recorded in the vault
}

// PlanDrillsInput asks which drills to start at Now, given the drills the planner has
// running per target instance (upper-cased).
type PlanDrillsInput struct {
	Now     time.Time      `json:"now"`
	Running map[string]int `json:"running,omitempty"`
}

// PlannedDrill is a drill to start.
type PlannedDrill struct {
	ItemID string `json:"itemId"`
	// Target is the upper-cased instance it restores on (the planner's running key).
	Target string            `json:"target"`
	Input  RestoreDrillInput `json:"input"`
}

// PlanDrillsResult lists the drills to start now, and how many items have a drill.
type PlanDrillsResult struct {
	Drills []PlannedDrill `json:"drills,omitempty"`
	Items  int            `json:"items"`
}

// DrillPlannerInput starts (and continues) sqlvault.DrillPlanner.
type DrillPlannerInput struct {
	// Every is how often the planner looks for due drills (default 5 minutes).
	Every time.Duration `json:"every,omitempty"`
	// Passes is how many times a run looks before it continues as new (default 288: a day
	// at 5 minutes), after its drills have ended.
	Passes int `json:"passes,omitempty"`
}
