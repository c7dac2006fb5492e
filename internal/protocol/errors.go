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
)

// UserErrors are never retried by the workflows.
var UserErrors = []string{
	ErrInvalidInput, ErrInstanceNotManaged, ErrNotSysadmin, ErrDatabaseNotFound, ErrDatabaseNotOnline,
	ErrDatabaseSnapshot, ErrMirroredDatabase, ErrLogBackupSimple, ErrNoLogChain, ErrNoDifferentialBase,
	ErrReadOnlyDifferential, ErrSecondaryReplica, ErrCompressionNotSupported, ErrSweepGraceTooShort,
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
