package protocol

import "time"

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
	// RetentionScheduleID is the schedule that runs sqlvault.Retention (every item, then
	// the sweep) every day; EnsureSchedules creates it with the items' schedules.
	RetentionScheduleID = "sqlvault-retention"
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
	// Failed lists the instances that could not be processed; the others were.
	Failed []InstanceFailure `json:"failed,omitempty"`
}

// InstanceFailure is one auto-protected instance Rediscover could not process.
type InstanceFailure struct {
	VM        string `json:"vm"`
	Instance  string `json:"instance"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error"`
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

// StopProtectionResult says what StopProtection left. Runs recorded before soft delete
// return no result.
type StopProtectionResult struct {
	// State is the item's state now: stopped-retain or stopped-delete.
	State string `json:"state"`
	// DeleteAfter (stopped-delete): the item's recovery points stay until then (the
	// control worker's retention.softDeleteDays after the stop), and ResumeProtection until
	// then undoes the delete; the first retention run after it deletes them.
	DeleteAfter *time.Time `json:"deleteAfter,omitempty"`
}

// DefaultSoftDeleteDays is how long an item stopped with delete keeps its recovery points
// unless the control worker's retention.softDeleteDays says otherwise: 14 days, Azure
// Backup's soft-delete period.
const DefaultSoftDeleteDays = 14

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

// SetItemStateResult is the item's state after SetItemState (results recorded before it
// had one are empty).
type SetItemStateResult struct {
	State string `json:"state"`
	// DeleteAfter: for stopped-delete, when the soft-delete period ends (see
	// StopProtectionResult).
	DeleteAfter *time.Time `json:"deleteAfter,omitempty"`
}

// RetentionInput starts sqlvault.Retention: {"dryRun": true}. Items restricts it to some items.
type RetentionInput struct {
	DryRun bool     `json:"dryRun,omitempty"`
	Items  []string `json:"items,omitempty"`
	// SweepGraceHours is how old an unreferenced blob must be before the sweep deletes it
	// (default DefaultSweepGraceHours; at least MinSweepGraceHours, longer than any
	// backup's stream and commit retries: see SweepGrace).
	SweepGraceHours int `json:"sweepGraceHours,omitempty"`
	// Cursor is the last item id already processed: this run starts after it (set by the
	// workflow when it continues as new; leave it out).
	Cursor string `json:"cursor,omitempty"`
	// PageSize is how many item ids a page holds (default DefaultItemPageSize, at most
	// MaxItemPageSize).
	PageSize int `json:"pageSize,omitempty"`
	// Totals is what the runs before this one did (set by Retention when it continues as
	// new; leave it out).
	Totals *RetentionResult `json:"totals,omitempty"`
}

// Item paging: Retention and Reconcile walk the items a page of item ids at a time
// (Cursor, PageSize in their inputs), continuing as new after a few pages, so that no run's
// history or payload grows with the fleet.
const (
	// DefaultItemPageSize: 200 item ids (about 6 KB) a page.
	DefaultItemPageSize = 200
	MaxItemPageSize     = 1000
	// ItemPagesPerRun: Retention and Reconcile continue as new after this many pages (1,000
	// items at the default size, a few thousand events), or sooner when Temporal suggests it.
	ItemPagesPerRun = 5
	// MaxListedDecisions bounds RetentionResult.Deleted across a paged run: DeletedCount
	// counts them all.
	MaxListedDecisions = 1000
)

// ActivityListItemIDsPage lists a page of item ids, in id order, without reading the
// records (input ListItemIDsPageInput, result ListItemIDsPageResult).
const ActivityListItemIDsPage = "sqlvault.control.ListItemIDsPage"

// ListItemIDsPageInput asks for at most Limit item ids after After ("" from the first).
type ListItemIDsPageInput struct {
	After string `json:"after,omitempty"`
	Limit int    `json:"limit"`
}

// ListItemIDsPageResult is one page of item ids; More says whether ids follow the last one.
type ListItemIDsPageResult struct {
	IDs  []string `json:"ids"`
	More bool     `json:"more,omitempty"`
}

// ReconcileInput starts sqlvault.Reconcile: {} (or no input at all). Its fields are the
// paging state Reconcile carries when it continues as new.
type ReconcileInput struct {
	// Cursor is the last item id already processed: this run starts after it (set by the
	// workflow when it continues as new; leave it out).
	Cursor string `json:"cursor,omitempty"`
	// PageSize is how many item ids a page holds (default DefaultItemPageSize, at most
	// MaxItemPageSize).
	PageSize int `json:"pageSize,omitempty"`
	// Totals is what the runs before this one did (set by Reconcile; leave it out).
	Totals *ReconcileResult `json:"totals,omitempty"`
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
	// ItemRemoved: the item was stopped with delete, every point is gone and no backup
	// started before the stop can still commit, so its record was removed too.
	ItemRemoved bool `json:"itemRemoved,omitempty"`
	// DeleteAfter: the item was stopped with delete and is in its soft-delete period: its
	// points (counted in Kept) are deleted by the first run after this time, unless
	// protection is resumed before.
	DeleteAfter *time.Time `json:"deleteAfter,omitempty"`
}

// RetentionResult sums a Retention run.
type RetentionResult struct {
	DryRun  bool                `json:"dryRun"`
	Deleted []RetentionDecision `json:"deleted"`
	// DeletedCount counts every point deleted (or, dry run, deletable). Deleted lists at
	// most MaxListedDecisions of them, so the result does not grow with the fleet (results
	// recorded before paging have no count: Deleted lists them all).
	DeletedCount int      `json:"deletedCount,omitempty"`
	Kept         int      `json:"kept"`
	SweptBlobs   []string `json:"sweptBlobs,omitempty"`
	SweptBytes   int64    `json:"sweptBytes,omitempty"`
	ItemsRemoved []string `json:"itemsRemoved,omitempty"`
	// SoftDeleted counts the items stopped with delete whose points retention kept because
	// their soft-delete period has not ended (their points are in Kept).
	SoftDeleted int `json:"softDeleted,omitempty"`
	// Failed lists the items retention could not process; the others and the sweep ran.
	Failed []RetentionFailure `json:"failed,omitempty"`
}

// ReconcileResult says what Reconcile changed.
type ReconcileResult struct {
	Items   int `json:"items"`
	Created int `json:"created"`
	Deleted int `json:"deleted"`
	// Failed lists the items whose schedules could not be rebuilt; the others were.
	Failed []RetentionFailure `json:"failed,omitempty"`
}

// Retention's and the item lock's named errors and types (issue 11, item 7).
const (
	// ActivityListItemIDs lists the ids of every item record without reading them, so one
	// unreadable record fails only its own item's retention.
	ActivityListItemIDs = "sqlvault.control.ListItemIDs"
	// ErrUnreadableRecord: a record of the vault (item record, manifest) cannot be read or
	// decoded; retrying does not help, a person must look at it (the message names it).
	ErrUnreadableRecord = "VaultRecordUnreadable"
	// ErrItemStopped: a backup's commit reached an item whose protection was stopped while
	// it ran; no recovery point is recorded (its data is swept later).
	ErrItemStopped = "ItemStopped"
	// ErrItemBusy: another operation (commit, retention, stop) holds the item's lease; the
	// activity is retried.
	ErrItemBusy = "ItemBusy"
	// ActivityCancelItemBackups cancels an item's running backups and waits for them to
	// close (StopProtection).
	ActivityCancelItemBackups = "sqlvault.control.CancelItemBackups"
)

// CancelItemBackupsInput names the item whose running backups StopProtection cancels.
type CancelItemBackupsInput struct {
	ItemID string `json:"itemId"`
}

// CancelItemBackupsResult lists the backup workflows that were running and were cancelled.
type CancelItemBackupsResult struct {
	Cancelled []string `json:"cancelled,omitempty"`
}

// RetentionFailure is one item retention could not process (the others proceeded).
type RetentionFailure struct {
	ItemID    string `json:"itemId"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error"`
}
