package protocol

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Named errors: the ApplicationError types workflows and activities fail with. A user
// error cannot succeed by retrying; its message says what to do.
const (
	ErrInvalidInput             = "InvalidInput"
	ErrInstanceNotManaged       = "InstanceNotManaged"
	ErrNotSysadmin              = "UserErrorSQLNoSysadminMembership"
	ErrDatabaseNotFound         = "DatabaseNotFound"
	ErrDatabaseNotOnline        = "DatabaseNotOnline"
	ErrDatabaseSnapshot         = "DatabaseSnapshotNotSupported"
	ErrMirroredDatabase         = "MirroredDatabaseNotSupported"
	ErrLogBackupSimple          = "LogBackupInSimpleRecovery"
	ErrNoLogChain               = "NoLogChain"
	ErrNoDifferentialBase       = "NoBaseForDifferential"
	ErrReadOnlyDifferential     = "ReadOnlyDatabaseDifferential"
	ErrSecondaryReplica         = "NotSupportedOnSecondaryReplica"
	ErrCompressionNotSupported  = "CompressionNotSupportedByEdition"
	ErrBackupInProgress         = "BackupInProgress"
	ErrSQLServerUnreachable     = "SQLServerUnreachable"
	ErrVaultUnavailable         = "VaultUnavailable"
	ErrBackupFailed             = "BackupFailed"
	ErrRecoveryPointVerifyError = "RecoveryPointVerificationFailed"
	// ErrKEKUnavailable: the key-encryption key cannot be used (key file missing or another
	// one, Key Vault refusing, disabled, deleted or unreachable); the message names the
	// provider and key and says what to do. Retried: access may come back.
	ErrKEKUnavailable = "KEKUnavailable"
	// ErrDataKeyUnavailable: the data key a backup or restore needs is not in the vault's
	// keyring (or none is active, or its record was altered); an operator must act.
	ErrDataKeyUnavailable = "DataKeyUnavailable"
	// ErrCrossVMRestoreRefused: a restore onto one VM of a point sealed with another VM's
	// data key, refused by the control worker's key.crossVMRestores: refuse.
	ErrCrossVMRestoreRefused = "CrossVMRestoreRefused"
	// ErrPathNotAllowed: a folder a request names (asFilesDir, dataPath, logPath) is not
	// under the target agent's agent.restoreRoots (or it has none).
	ErrPathNotAllowed = "PathNotAllowedByAgent"
	// ErrRestoreNotAllowed: the target instance's agent.instances[].restore does not accept
	// this restore (none: no restore; new: none that replaces a database).
	ErrRestoreNotAllowed = "RestoreNotAllowedByAgent"
	// ErrUnauthenticated: a vault object a restore or a deletion would act on (a manifest, a
	// listing summary, a stripe index, a block) failed authentication by the vault key, or
	// has none (a legacy manifest, before `sqlvault vault upgrade`). The message names the
	// object and what to do. Restores refuse it (legacy ones are accepted only with
	// --allow-unauthenticated), retention never deletes on its word, planning skips it.
	ErrUnauthenticated = "VaultObjectUnauthenticated"
	// ErrVaultGrant: the agent cannot use the storage grant it was given (or was given none
	// and holds no credential of its own): the message says which and what to do.
	ErrVaultGrant = "VaultGrantRefused"
	// ErrVaultGrantExpired: the step's storage grant expired; retrying the step would reuse
	// it, so the workflow must be started again (it mints a new one).
	ErrVaultGrantExpired = "VaultGrantExpired"
)

// What restores an agent accepts into an instance (agent.instances[].restore).
const (
	RestoreModeOverwrite = "overwrite" // new databases, and over existing ones when asked (the default)
	RestoreModeNew       = "new"       // only databases that do not exist
	RestoreModeNone      = "none"      // none
)

// UserErrors are never retried by the workflows. (Errors built with UserError are not
// retried either, being non-retryable themselves, such as ErrPathNotAllowed and
// ErrRestoreNotAllowed; this list is part of the activity options workflows record, so it
// does not grow.)
var UserErrors = []string{
	ErrInvalidInput, ErrInstanceNotManaged, ErrNotSysadmin, ErrDatabaseNotFound, ErrDatabaseNotOnline,
	ErrDatabaseSnapshot, ErrMirroredDatabase, ErrLogBackupSimple, ErrNoLogChain, ErrNoDifferentialBase,
	ErrReadOnlyDifferential, ErrSecondaryReplica, ErrCompressionNotSupported, ErrSweepGraceTooShort,
	ErrVaultGrant, ErrVaultGrantExpired,
}

// UserError builds a non-retryable named error.
func UserError(kind, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), kind, nil)
}

// RetryableError builds a named error the workflow retries.
func RetryableError(kind string, cause error, format string, args ...any) error {
	return temporal.NewApplicationErrorWithCause(fmt.Sprintf(format, args...), kind, cause)
}

// ErrorType returns the named type of a Temporal error chain (activity or workflow failure), or "".
func ErrorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}
