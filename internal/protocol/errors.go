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
	// ErrVaultGrant: the agent cannot use the storage grant it was given (or was given none
	// and holds no credential of its own): the message says which and what to do.
	ErrVaultGrant = "VaultGrantRefused"
	// ErrVaultGrantExpired: the step's storage grant expired; retrying the step would reuse
	// it, so the workflow must be started again (it mints a new one).
	ErrVaultGrantExpired = "VaultGrantExpired"
)

// UserErrors are never retried by the workflows.
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
