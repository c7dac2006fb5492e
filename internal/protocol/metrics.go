package protocol

// Series the workflows record through the Temporal SDK's workflow metrics handler
// (workflow.GetMetricsHandler: replay-safe, so a replayed workflow counts nothing twice).
// The names are given to the SDK without unit suffixes: its Prometheus adapter
// (internal/metrics) adds "_total" to counters and "_seconds" to timers, so
// MetricBackups is exported as sqlvault_backups_total and MetricBackupDuration as
// sqlvault_backup_duration_seconds. They are here because workflows import nothing of ours
// but this package and the domain; internal/metrics declares them in its catalogue.
const (
	MetricBackups         = "sqlvault_backups"          // counter: one per Backup workflow that ends
	MetricBackupDuration  = "sqlvault_backup_duration"  // timer: a Backup workflow's run, start to end
	MetricRestores        = "sqlvault_restores"         // counter: one per Restore workflow that ends
	MetricRestoreDuration = "sqlvault_restore_duration" // timer: a Restore workflow's run, start to end
)

// Labels (SDK tags) of the workflow series. Values are small fixed sets: a backup type, a
// restore kind, an outcome.
const (
	MetricTagType    = "type"    // backup: full, differential, log, copy-only-full; restore: RestoreKind
	MetricTagOutcome = "outcome" // OutcomeSuccess, OutcomeFailure or OutcomeCancelled
)

// Outcomes of a backup, restore or stream, as metric label values.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeCancelled = "cancelled"
)

// Restore kinds, as metric label values: into a database (new or overwritten), into a scratch
// database that is checked and dropped (verify), or written out as files.
const (
	RestoreKindDatabase = "database"
	RestoreKindVerify   = "verify"
	RestoreKindFiles    = "files"
)

// RestoreKind is the kind of restore in asks for.
func (in RestoreInput) RestoreKind() string {
	switch {
	case in.AsFilesDir != "":
		return RestoreKindFiles
	case in.Verify:
		return RestoreKindVerify
	}
	return RestoreKindDatabase
}
