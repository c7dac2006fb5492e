package protocol

// Protection's workflow and activity types.
const (
	WorkflowConfigureProtection = "sqlvault.ConfigureProtection"
	WorkflowStopProtection      = "sqlvault.StopProtection"
	WorkflowResumeProtection    = "sqlvault.ResumeProtection"
	WorkflowRetention           = "sqlvault.Retention"
	WorkflowReconcile           = "sqlvault.Reconcile"

	ActivityLoadPolicy     = "sqlvault.control.LoadPolicy"
	ActivityRegisterItems  = "sqlvault.control.RegisterItems"
	ActivitySetItemState   = "sqlvault.control.SetItemState"
	ActivityEnsureSchedule = "sqlvault.control.EnsureSchedules"
	ActivityApplyRetention = "sqlvault.control.ApplyRetention"
	ActivityListItems      = "sqlvault.control.ListItems"
	ActivitySweep          = "sqlvault.control.Sweep"
	ActivityAutoProtection = "sqlvault.control.AutoProtection"

	WorkflowRediscover = "sqlvault.Rediscover"
	// RediscoverScheduleID is the schedule that runs discovery for auto-protected instances.
	RediscoverScheduleID = "sqlvault-rediscover"
)

// AutoProtectionInput records an auto-protected instance and ensures the rediscovery
// schedule exists. With List, it only returns the auto-protected instances.
type AutoProtectionInput struct {
	VM       string `json:"vm,omitempty"`
	Instance string `json:"instance,omitempty"`
	Policy   string `json:"policy,omitempty"`
	List     bool   `json:"list,omitempty"`
	// EnsureSchedule (with List) recreates the rediscovery schedule when any instance is
	// auto-protected: Reconcile's part.
	EnsureSchedule bool `json:"ensureSchedule,omitempty"`
}

// AutoProtectedInstance is one instance record.
type AutoProtectedInstance struct {
	VM       string `json:"vm"`
	Instance string `json:"instance"`
	Policy   string `json:"policy"`
}

// RediscoverResult lists the databases rediscovery protected.
type RediscoverResult struct {
	Protected []ProtectedDatabase `json:"protected"`
}

// Protection's named errors.
const (
	ErrTooManyDatabases     = "TooManyDatabasesPerCall"
	ErrVaultFull            = "VaultDatabaseLimitReached"
	ErrPolicyNotFound       = "PolicyNotFound"
	ErrInvalidPolicy        = "InvalidPolicy"
	ErrDatabaseNotSupported = "DatabaseNotSupported"
	ErrNotProtected         = "NotProtected"
)

// ConfigureProtectionInput starts sqlvault.ConfigureProtection:
//
//	{"vm": "SQLVM1", "instance": "SQLVM1", "databases": ["SalesDB", "HR"], "policy": "daily-30d"}
type ConfigureProtectionInput struct {
	VM        string   `json:"vm"`
	Instance  string   `json:"instance"`
	Databases []string `json:"databases"`
	Policy    string   `json:"policy"`
	// SkipFirstFull does not take the first full right away (the schedule will).
	SkipFirstFull bool `json:"skipFirstFull,omitempty"`
	// AutoProtect protects every protectable user database of the instance now (Databases
	// may then be empty) and, at each later discovery, the databases created since.
	AutoProtect bool `json:"autoProtect,omitempty"`
}

// ProtectedDatabase is one database ConfigureProtection protected.
type ProtectedDatabase struct {
	Database  string         `json:"database"`
	ItemID    string         `json:"itemId"`
	Schedules []string       `json:"schedules"`
	FirstFull *RecoveryPoint `json:"firstFull,omitempty"`
	// FirstFullError says why the first full failed (protection stands; the schedule retries).
	FirstFullError string `json:"firstFullError,omitempty"`
}

// ConfigureProtectionResult lists what was protected.
type ConfigureProtectionResult struct {
	Protected []ProtectedDatabase `json:"protected"`
}

// RegisterItemsInput records protected items in the vault.
type RegisterItemsInput struct {
	VM        string         `json:"vm"`
	Instance  string         `json:"instance"`
	Policy    string         `json:"policy"`
	Databases []DatabaseInfo `json:"databases"`
}

// EnsureSchedulesInput creates, updates or deletes an item's Temporal Schedules so that they
// match its policy (or removes them all when Remove).
type EnsureSchedulesInput struct {
	ItemID string `json:"itemId"`
	Remove bool   `json:"remove,omitempty"`
	Pause  bool   `json:"pause,omitempty"`
}

// EnsureSchedulesResult names the schedules that exist afterwards and what changed.
type EnsureSchedulesResult struct {
	Schedules []string `json:"schedules"`
	Created   int      `json:"created"`
	Deleted   int      `json:"deleted"`
}

// StopProtectionInput: {"instance": "SQLVM1", "database": "SalesDB", "deleteData": false}
type StopProtectionInput struct {
	Instance   string `json:"instance"`
	Database   string `json:"database"`
	DeleteData bool   `json:"deleteData,omitempty"`
}

// ResumeProtectionInput: {"instance": "SQLVM1", "database": "SalesDB"}
type ResumeProtectionInput struct {
	Instance string `json:"instance"`
	Database string `json:"database"`
}

// SetItemStateInput changes an item's protection state.
type SetItemStateInput struct {
	ItemID string `json:"itemId"`
	State  string `json:"state"`
}

// RetentionInput starts sqlvault.Retention: {"dryRun": true}. Items restricts it to some items.
type RetentionInput struct {
	DryRun bool     `json:"dryRun,omitempty"`
	Items  []string `json:"items,omitempty"`
	// SweepGraceHours is how old an unreferenced blob must be before the sweep deletes it
	// (default DefaultSweepGraceHours; at least MinSweepGraceHours, longer than any
	// backup's stream and commit retries: see SweepGrace).
	SweepGraceHours int `json:"sweepGraceHours,omitempty"`
}

// RetentionDecision is one recovery point's fate.
type RetentionDecision struct {
	ItemID  string   `json:"itemId"`
	PointID string   `json:"pointId"`
	Delete  bool     `json:"delete"`
	Reasons []string `json:"reasons"`
}

// ApplyRetentionInput applies (or, dry run, lists) retention for one item.
type ApplyRetentionInput struct {
	ItemID string `json:"itemId"`
	DryRun bool   `json:"dryRun"`
}

// ApplyRetentionResult is what retention deleted (or would delete) for one item.
type ApplyRetentionResult struct {
	Deleted []RetentionDecision `json:"deleted"`
	Kept    int                 `json:"kept"`
}

// RetentionResult sums a Retention run.
type RetentionResult struct {
	DryRun       bool                `json:"dryRun"`
	Deleted      []RetentionDecision `json:"deleted"`
	Kept         int                 `json:"kept"`
	SweptBlobs   []string            `json:"sweptBlobs,omitempty"`
	SweptBytes   int64               `json:"sweptBytes,omitempty"`
	ItemsRemoved []string            `json:"itemsRemoved,omitempty"`
}

// ReconcileResult says what Reconcile changed.
type ReconcileResult struct {
	Items   int `json:"items"`
	Created int `json:"created"`
	Deleted int `json:"deleted"`
}
