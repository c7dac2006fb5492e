package query

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

func scalarOf(t *testing.T, env Env, sql string) any {
	t.Helper()
	res, err := runSQL(t, env, sql)
	require.NoError(t, err, sql)
	require.Len(t, res.Rows, 1, sql)
	return res.Rows[0][0]
}

// The workload digest the acceptance suite computes on real SQL Server and the simulator:
// COUNT_BIG(*) and CHECKSUM_AGG(BINARY_CHECKSUM(*)). Only the documented properties are
// pinned, never values (SQL Server's algorithm is not published).
func TestBinaryChecksumAndChecksumAgg(t *testing.T) {
	env := newFakeEnv()
	res, err := runSQL(t, env, "SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(*)) FROM sys.databases")
	require.NoError(t, err)
	require.Len(t, res.Rows, 1)
	assert.Equal(t, int64(8), res.Rows[0][0])
	assert.IsType(t, int32(0), res.Rows[0][1])
	assert.Equal(t, "int", typeName(res.Columns[1].Type), "CHECKSUM_AGG returns int")
	whole := res.Rows[0][1]

	// The same row gives the same value; the * form equals the columns listed in table order.
	star := scalarOf(t, env, "SELECT BINARY_CHECKSUM(*) FROM sys.databases WHERE name = N'MyDb'")
	listed := scalarOf(t, env, "SELECT BINARY_CHECKSUM(name, database_id, state_desc, recovery_model_desc, is_read_only, source_database_id) FROM sys.databases WHERE name = N'MyDb'")
	assert.Equal(t, star, listed)
	assert.Equal(t, star, scalarOf(t, env, "SELECT BINARY_CHECKSUM(*) FROM sys.databases WHERE database_id = 5"))
	// Order of the expressions matters; case matters (unlike CHECKSUM); trailing blanks do not.
	assert.NotEqual(t, scalarOf(t, env, "SELECT BINARY_CHECKSUM(1, 2)"), scalarOf(t, env, "SELECT BINARY_CHECKSUM(2, 1)"))
	assert.NotEqual(t, scalarOf(t, env, "SELECT BINARY_CHECKSUM(N'McCavity')"), scalarOf(t, env, "SELECT BINARY_CHECKSUM(N'Mccavity')"))
	assert.Equal(t, scalarOf(t, env, "SELECT BINARY_CHECKSUM(N'a')"), scalarOf(t, env, "SELECT BINARY_CHECKSUM(N'a  ')"))
	// NULLs of a type are alike, and differ from a value.
	assert.Equal(t, scalarOf(t, env, "SELECT BINARY_CHECKSUM(CAST(NULL AS int))"), scalarOf(t, env, "SELECT BINARY_CHECKSUM(CAST(NULL AS int))"))
	assert.NotEqual(t, scalarOf(t, env, "SELECT BINARY_CHECKSUM(CAST(NULL AS int))"), scalarOf(t, env, "SELECT BINARY_CHECKSUM(0)"))

	// CHECKSUM_AGG does not depend on row order, ignores NULLs, is NULL over no row.
	assert.Equal(t, whole, scalarOf(t, env, "SELECT CHECKSUM_AGG(c) FROM (SELECT TOP 100 BINARY_CHECKSUM(*) AS c FROM sys.databases ORDER BY name DESC) AS d"))
	assert.Equal(t, scalarOf(t, env, "SELECT CHECKSUM_AGG(source_database_id) FROM sys.databases"),
		scalarOf(t, env, "SELECT CHECKSUM_AGG(source_database_id) FROM sys.databases WHERE source_database_id IS NOT NULL"))
	assert.Nil(t, scalarOf(t, env, "SELECT CHECKSUM_AGG(database_id) FROM sys.databases WHERE 1 = 0"))
	// A changed row changes the aggregate (here: one row fewer).
	assert.NotEqual(t, whole, scalarOf(t, env, "SELECT CHECKSUM_AGG(BINARY_CHECKSUM(*)) FROM sys.databases WHERE database_id <> 5"))
	// Per group, with GROUP BY.
	res, err = runSQL(t, env, "SELECT recovery_model_desc, CHECKSUM_AGG(database_id) FROM sys.databases GROUP BY recovery_model_desc ORDER BY recovery_model_desc")
	require.NoError(t, err)
	assert.Len(t, res.Rows, 3)

	// SQL Server's errors: an integer expression only; no * outside a row.
	_, err = runSQL(t, env, "SELECT CHECKSUM_AGG(name) FROM sys.databases")
	requireErrNum(t, err, 8117)
	_, err = runSQL(t, env, "SELECT BINARY_CHECKSUM(*) FROM sys.databases GROUP BY recovery_model_desc")
	requireErrNum(t, err, 8120)
}

func requireErrNum(t *testing.T, err error, number int32) {
	t.Helper()
	var sqlErr *sqltypes.Error
	require.ErrorAs(t, err, &sqlErr)
	assert.Equal(t, number, sqlErr.Number, sqlErr.Text)
}
