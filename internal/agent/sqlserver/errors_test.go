package sqlserver_test

import (
	"fmt"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
)

// Every SQL Server error number the product maps, with the kind it maps to and whether a
// retry may help. SQL Server ends a failed BACKUP or RESTORE with 3013 after the cause; the
// cause is what is classified (go-mssqldb reports the last error, all of them in All).
// The numbers and their messages are Microsoft's (error reference pages); see
// internal/sqlsim/FIDELITY.md for each one's source.
func TestEveryMappedErrorNumber(t *testing.T) {
	for _, c := range []struct {
		number    int32
		kind      sqlserver.Kind
		retryable bool
	}{
		{911, sqlserver.ErrDatabaseNotFound, false},
		{4208, sqlserver.ErrLogBackupSimple, false},
		{4214, sqlserver.ErrNoLogChain, false},
		{3035, sqlserver.ErrNoDifferentialBase, false},
		{927, sqlserver.ErrDatabaseNotOnline, false},
		{942, sqlserver.ErrDatabaseNotOnline, false},
		{3002, sqlserver.ErrDatabaseSnapshot, false},
		{3059, sqlserver.ErrSecondaryReplica, false},
		{1844, sqlserver.ErrCompressionNotAllowed, false},
		{3023, sqlserver.ErrBackupInProgress, true},
		{262, sqlserver.ErrNotSysadmin, false},
		{3110, sqlserver.ErrNotSysadmin, false},
		{15247, sqlserver.ErrNotSysadmin, false},
		{18456, sqlserver.ErrLoginFailed, true},
		{3201, sqlserver.ErrDeviceOpen, true},
		{3202, sqlserver.ErrDeviceIO, true},
		{3203, sqlserver.ErrDeviceIO, true},
		{3271, sqlserver.ErrDeviceOpen, true},
		{3063, sqlserver.ErrTooManyBlocks, false},
		{4305, sqlserver.ErrOther, true}, // restore refusals: named by the restore activity
	} {
		cause := mssql.Error{Number: c.number, Message: fmt.Sprintf("cause %d", c.number)}
		closing := mssql.Error{Number: 3013, Message: "BACKUP DATABASE is terminating abnormally."}
		last := closing
		last.All = []mssql.Error{cause, closing}
		err := sqlserver.Classify(last)
		var se *sqlserver.Error
		require.ErrorAs(t, err, &se, "%d", c.number)
		assert.Equal(t, c.kind, se.Kind, "%d", c.number)
		assert.Equal(t, c.number, se.Number, "the cause, not 3013")
		assert.Equal(t, c.retryable, se.Retryable(), "%d", c.number)
	}
}
