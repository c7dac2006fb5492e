package query

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

func TestSelectErrors(t *testing.T) {
	tests := []struct {
		name   string
		sql    string
		number int32
		text   string // exact message when set
	}{
		{"unknown column, even over no rows", "SELECT nme FROM sys.databases WHERE 1 = 0", 207, "Invalid column name 'nme'."},
		{"unknown column behind a known qualifier", "SELECT d.nme FROM sys.databases d", 207, "Invalid column name 'nme'."},
		{"ambiguous column", "SELECT media_set_id FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily m ON m.media_set_id = b.media_set_id", 209, "Ambiguous column name 'media_set_id'."},
		{"unbound qualifier", "SELECT x.name FROM sys.databases d", 4104, `The multi-part identifier "x.name" could not be bound.`},
		{"table name hidden by its alias", "SELECT databases.name FROM sys.databases d", 4104, `The multi-part identifier "databases.name" could not be bound.`},
		{"unknown table", "SELECT * FROM sys.nope", 208, "Invalid object name 'sys.nope'."},
		{"ungrouped column", "SELECT name, COUNT(*) FROM sys.databases", 8120, "Column 'databases.name' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause."},
		{"ungrouped column in HAVING", "SELECT type FROM msdb.dbo.backupset GROUP BY type HAVING database_name = 'x'", 8121, ""},
		{"ungrouped column in ORDER BY", "SELECT type FROM msdb.dbo.backupset GROUP BY type ORDER BY backup_finish_date", 8127, ""},
		{"ungrouped star", "SELECT * FROM sys.databases GROUP BY name", 8120, ""},
		{"aggregate in WHERE", "SELECT name FROM sys.databases WHERE COUNT(*) > 1", 147, ""},
		{"aggregate of an aggregate", "SELECT SUM(COUNT(*)) FROM sys.databases", 130, ""},
		{"aggregate in GROUP BY", "SELECT 1 FROM sys.databases GROUP BY COUNT(*)", 144, ""},
		{"SUM of a string", "SELECT SUM(name) FROM sys.databases", 8117, "Operand data type nvarchar is invalid for sum operator."},
		{"scalar subquery with many rows", "SELECT (SELECT name FROM sys.databases) AS n", 512, ""},
		{"subquery with two columns in IN", "SELECT 1 FROM sys.databases WHERE name IN (SELECT name, state_desc FROM sys.databases)", 116, ""},
		{"string that is not an int", "SELECT name FROM sys.databases WHERE database_id = 'abc'", 245, "Conversion failed when converting the nvarchar value 'abc' to data type int."},
		{"string that is not a numeric (LSN)", "SELECT 1 FROM msdb.dbo.backupset WHERE first_lsn = 'lsn'", 8114, "Error converting data type nvarchar to numeric."},
		{"string that is not a date", "SELECT 1 FROM msdb.dbo.backupset WHERE backup_finish_date > 'yesterday'", 241, "Conversion failed when converting date and/or time from character string."},
		{"CASE mixing int and a non-numeric string", "SELECT CASE WHEN database_id > 1 THEN 'many' ELSE 0 END FROM sys.databases", 245, ""},
		{"ORDER BY position out of range", "SELECT name FROM sys.databases ORDER BY 2", 108, ""},
		{"DISTINCT with ORDER BY elsewhere", "SELECT DISTINCT name FROM sys.databases ORDER BY database_id", 145, ""},
		{"star without FROM", "SELECT *", 263, "Must specify table to select from."},
		{"unknown star qualifier", "SELECT q.* FROM sys.databases d", 107, ""},
		{"same exposed name twice", "SELECT 1 FROM sys.databases, sys.databases", 1013, ""},
		{"derived table column without a name", "SELECT * FROM (SELECT COUNT(*) FROM sys.databases) AS x", 8155, "No column name was specified for column 1 of 'x'."},
		{"undeclared variable", "SELECT name FROM sys.databases WHERE name = @nope", 137, `Must declare the scalar variable "@nope".`},
		{"unknown function", "SELECT NOPE(1)", 195, "'NOPE' is not a recognized built-in function name."},
		{"unknown multi-part function", "SELECT dbo.nope(1)", 4121, ""},
		{"wrong argument count", "SELECT LEN('a', 'b')", 174, "The len function requires 1 argument(s)."},
		{"type clash", "SELECT 1 FROM sys.databases WHERE CAST(NULL AS uniqueidentifier) = database_id", 206, "Operand type clash: uniqueidentifier is incompatible with int"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runSQL(t, newFakeEnv(), tc.sql)
			require.Error(t, err)
			var sqlErr *sqltypes.Error
			require.ErrorAs(t, err, &sqlErr)
			assert.Equal(t, tc.number, sqlErr.Number, sqlErr.Text)
			assert.Equal(t, uint8(16), sqlErr.Class)
			if tc.text != "" {
				assert.Equal(t, tc.text, sqlErr.Text)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		expr   string
		number int32
		text   string
	}{
		{"2147483647 + 1", 8115, "Arithmetic overflow error converting expression to data type int."},
		{"CAST(300 AS tinyint)", 8115, ""},
		{"CAST(9223372036854775807 AS bigint) * 2", 8115, "Arithmetic overflow error converting expression to data type bigint."},
		{"CAST(123.45 AS numeric(4,2))", 8115, "Arithmetic overflow error converting numeric to data type numeric."},
		{"CAST(12345 AS nvarchar(3))", 8115, ""},
		{"1 / 0", 8134, "Divide by zero error encountered."},
		{"1 % 0", 8134, ""},
		{"1.5 / 0", 8134, ""},
		{"1e0 / 0", 8134, ""},
		{"'a' - 'b'", 402, "The data types nvarchar and nvarchar are incompatible in the subtract operator."},
		{"-N'x'", 8117, ""},
		{"CAST('99999999999' AS int)", 248, "The conversion of the nvarchar value '99999999999' overflowed an int column."},
		{"CAST('1.5' AS int)", 245, ""},
		{"CAST('x' AS bit)", 245, ""},
		{"CAST('1e5' AS numeric(10,0))", 8114, ""},
		{"CAST('abc' AS float)", 8114, "Error converting data type nvarchar to float."},
		{"CAST('2026-02-30' AS datetime)", 241, ""},
		{"CAST('1600-01-01' AS datetime)", 242, ""},
		{"CAST('not-a-guid' AS uniqueidentifier)", 8169, ""},
		{"CAST(CAST('2026-01-01' AS datetime2) AS int)", 529, ""},
		{"CAST(1 AS geography)", 243, ""},
		{"CONVERT(nvarchar(30), GETDATE(), 999)", 281, ""},
		{"DATEADD(fortnight, 1, GETDATE())", 155, "'fortnight' is not a recognized dateadd option."},
		{"DATEADD(year, 9000, CAST('2026-01-01' AS datetime))", 517, ""},
		{"DATEDIFF(nanosecond, '1900-01-01', '2026-01-01')", 535, ""},
		{"SUBSTRING('abc', 1, -1)", 537, ""},
		{"RIGHT('abc', -1)", 536, ""},
		{"COALESCE(NULL, @nothing, 'x')", 245, ""},
		{"(SELECT database_id, name FROM sys.databases)", 116, ""},
		{"@undeclared", 137, ""},
		{"COUNT(*)", 147, ""},
		{"unknown_column", 207, ""},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, _, err := Eval(parseExpr(t, tc.expr), newFakeEnv())
			require.Error(t, err)
			var sqlErr *sqltypes.Error
			require.ErrorAs(t, err, &sqlErr)
			assert.Equal(t, tc.number, sqlErr.Number, sqlErr.Text)
			if tc.text != "" {
				assert.Equal(t, tc.text, sqlErr.Text)
			}
		})
	}
}
