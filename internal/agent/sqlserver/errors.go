package sqlserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	mssql "github.com/microsoft/go-mssqldb"
)

// Kind names a failure the product reacts to. User errors (the request cannot succeed as
// asked) are never retried; transient ones are.
type Kind string

// The kinds, by what the user or operator must do about them.
const (
	ErrDatabaseNotFound      Kind = "DatabaseNotFound"
	ErrNotSysadmin           Kind = "UserErrorSQLNoSysadminMembership"
	ErrLogBackupSimple       Kind = "LogBackupInSimpleRecovery"
	ErrNoLogChain            Kind = "NoLogChain"
	ErrNoDifferentialBase    Kind = "NoBaseForDifferential"
	ErrDatabaseNotOnline     Kind = "DatabaseNotOnline"
	ErrDatabaseSnapshot      Kind = "DatabaseSnapshotNotSupported"
	ErrSecondaryReplica      Kind = "NotSupportedOnSecondaryReplica"
	ErrCompressionNotAllowed Kind = "CompressionNotSupportedByEdition"
	ErrBackupInProgress      Kind = "BackupInProgress"
	ErrLoginFailed           Kind = "LoginFailed"
	ErrDeviceOpen            Kind = "BackupDeviceError"
	ErrDeviceIO              Kind = "BackupDeviceIOError"
	ErrTooManyBlocks         Kind = "BlobBlockLimitReached"
	ErrUnreachable           Kind = "SQLServerUnreachable"
	ErrOther                 Kind = "SQLServerError"
)

// Error is a classified SQL Server failure. Number is the cause's SQL error number (not
// the closing 3013), Text its message.
type Error struct {
	Kind     Kind
	Number   int32
	Text     string
	Database string
	Err      error
}

func (e *Error) Error() string {
	switch e.Kind {
	case ErrDatabaseNotFound:
		return fmt.Sprintf("database %q does not exist on the instance: check the name (as sys.databases shows it)", e.Database)
	}
	if e.Number != 0 {
		return fmt.Sprintf("SQL Server error %d: %s", e.Number, e.Text)
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return string(e.Kind)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying again may succeed without anyone changing anything.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case ErrDeviceIO, ErrUnreachable, ErrBackupInProgress, ErrOther, ErrDeviceOpen, ErrLoginFailed:
		return true
	}
	return false
}

// kindByNumber maps SQL Server's error numbers to kinds.
var kindByNumber = map[int32]Kind{
	911:   ErrDatabaseNotFound,
	4208:  ErrLogBackupSimple,
	4214:  ErrNoLogChain,
	3035:  ErrNoDifferentialBase,
	927:   ErrDatabaseNotOnline,
	942:   ErrDatabaseNotOnline,
	3002:  ErrDatabaseSnapshot,
	3059:  ErrSecondaryReplica,
	1844:  ErrCompressionNotAllowed,
	3023:  ErrBackupInProgress,
	262:   ErrNotSysadmin,
	3110:  ErrNotSysadmin,
	15247: ErrNotSysadmin,
	18456: ErrLoginFailed,
	3201:  ErrDeviceOpen,
	3202:  ErrDeviceIO,
	3203:  ErrDeviceIO,
	3271:  ErrDeviceOpen,
	3063:  ErrTooManyBlocks,
}

// Classify turns a go-mssqldb or network error into *Error (nil stays nil; context errors
// pass through so cancellation stays recognisable).
func Classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	var me mssql.Error
	if errors.As(err, &me) {
		cause := me
		// The cause is the first error that is not the closing "terminating abnormally".
		for _, e := range me.All {
			if e.Number != 3013 {
				cause = e
				break
			}
		}
		k, ok := kindByNumber[cause.Number]
		if !ok {
			k = ErrOther
		}
		return &Error{Kind: k, Number: cause.Number, Text: cause.Message, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") || errors.Is(err, net.ErrClosed) {
		return &Error{Kind: ErrUnreachable, Err: err}
	}
	return &Error{Kind: ErrOther, Err: err}
}

// KindOf returns the kind of a classified error, or "".
func KindOf(err error) Kind {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	return ""
}
