package protocol

import "time"

// The RPO watchdog: a long-running workflow under one workflow ID that, every Interval,
// sweeps every protected item a page at a time (ActivityCheckRPOPage), then merges the
// sweep (ActivityFinishRPOSweep) into the vault's latest report, which `sqlvault status
// --fleet`, the per-item breach series and the webhook read. Findings travel through the
// vault, not the history: a page's activity result carries counts only.
const (
	WorkflowRPOWatchdog = "sqlvault.RPOWatchdog"
	// RPOWatchdogID is the watchdog's workflow ID: one per namespace.
	RPOWatchdogID = "sqlvault-rpo-watchdog"

	ActivityCheckRPOPage   = "sqlvault.control.CheckRPOPage"
	ActivityFinishRPOSweep = "sqlvault.control.FinishRPOSweep"
	ActivityNotifyRPO      = "sqlvault.control.NotifyRPOWebhook"

	// QueryRPOWatchdog returns the watchdog's last sweep summary (RPOSweepSummary).
	QueryRPOWatchdog = "rpo"

	// DefaultRPOWatchdogInterval is the time between sweeps.
	DefaultRPOWatchdogInterval = 5 * time.Minute
	// MinRPOWatchdogInterval bounds the sweep rate (each sweep reads every item's catalog).
	MinRPOWatchdogInterval = 10 * time.Second
	// RPOWatchdogRoundsPerRun: the watchdog continues as new after this many sweeps.
	RPOWatchdogRoundsPerRun = 12
	// MaxListedBreaches is how many of the worst breaches a summary names.
	MaxListedBreaches = 20
)

// ErrWebhookFailed: the RPO webhook could not be told (retried).
const ErrWebhookFailed = "RPOWebhookFailed"

// RPO states of an item (the fleet table's STATE, the finding's State).
const (
	RPOStateOK       = "ok"
	RPOStateBreached = "breached"
	RPOStateUnknown  = "unknown" // its policy or catalog could not be read
)

// Reasons: why an item is breached, a small fixed set (a metric label).
const (
	RPOReasonNoFull          = "no-full"          // nothing restorable yet: no full since protection began
	RPOReasonChainBroken     = "chain-broken"     // points newer than the newest restorable instant: the log chain broke
	RPOReasonSchedulePaused  = "schedule-paused"  // a backup schedule of the item is paused (a failover or by hand)
	RPOReasonScheduleMissing = "schedule-missing" // a backup schedule the policy needs does not exist
	RPOReasonScheduleStuck   = "schedule-stuck"   // the schedule skips runs: a backup is still running
	RPOReasonBackupsLate     = "backups-late"     // none of the above: backups run but fail or finish late
	RPOReasonPolicyMissing   = "policy-missing"   // no readable policy, so no target
)

// RPOWatchdogInput configures the watchdog; the rest is its state across continue-as-new.
type RPOWatchdogInput struct {
	// Interval between sweeps (0: DefaultRPOWatchdogInterval; at least MinRPOWatchdogInterval).
	Interval time.Duration `json:"interval,omitempty"`
	// PageSize is how many items a page checks (0: DefaultItemPageSize).
	PageSize int `json:"pageSize,omitempty"`
	// RoundsPerRun (0: RPOWatchdogRoundsPerRun) sweeps before continuing as new.
	RoundsPerRun int `json:"roundsPerRun,omitempty"`
	// Sweeps counts the sweeps of earlier runs (names each sweep).
	Sweeps int `json:"sweeps,omitempty"`
	// Last is the previous sweep's summary (what the query answers before the first sweep).
	Last *RPOSweepSummary `json:"last,omitempty"`
}

// CheckRPOPageInput asks for one page of items to be judged at At; the findings are stored
// in the vault under the sweep.
type CheckRPOPageInput struct {
	Sweep string    `json:"sweep"`
	After string    `json:"after,omitempty"`
	Limit int       `json:"limit"`
	At    time.Time `json:"at"`
}

// CheckRPOPageResult is the page's counts and the cursor.
type CheckRPOPageResult struct {
	Items    int    `json:"items"`
	Breached int    `json:"breached"`
	Next     string `json:"next,omitempty"`
	More     bool   `json:"more,omitempty"`
}

// FinishRPOSweepInput merges a sweep's pages into the latest report.
type FinishRPOSweepInput struct {
	Sweep string    `json:"sweep"`
	At    time.Time `json:"at"`
}

// RPOBreach names one breached item in a summary.
type RPOBreach struct {
	ItemID   string `json:"itemId"`
	Instance string `json:"instance"`
	Database string `json:"database"`
	Reason   string `json:"reason"`
	// RPOSeconds and TargetSeconds: how far behind, against what.
	RPOSeconds    int64 `json:"rpoSeconds"`
	TargetSeconds int64 `json:"targetSeconds"`
}

// RPOSweepSummary is a sweep's outcome: counts, the worst breaches (at most
// MaxListedBreaches) and whether the set of breached items changed since the last report.
type RPOSweepSummary struct {
	Sweep    string      `json:"sweep"`
	At       time.Time   `json:"at"`
	Items    int         `json:"items"`
	Breached int         `json:"breached"`
	Worst    []RPOBreach `json:"worst,omitempty"`
	Changed  bool        `json:"changed,omitempty"`
}

// NotifyRPOInput asks the webhook to be told of the latest report (read from the vault: the
// URL and its secret header are the worker's configuration, never the workflow's).
type NotifyRPOInput struct {
	Sweep string `json:"sweep"`
}

// NotifyRPOResult says whether a webhook was configured and answered.
type NotifyRPOResult struct {
	Sent   bool `json:"sent"`
	Status int  `json:"status,omitempty"`
}
