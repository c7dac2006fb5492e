package query

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

func TestEval(t *testing.T) {
	tests := []struct {
		expr string
		want string
		typ  sqltypes.Type
	}{
		// arithmetic and type precedence
		{"1 + 2 * 3", "7", sqltypes.Int},
		{"7 / 2", "3", sqltypes.Int},
		{"-7 / 2", "-3", sqltypes.Int},
		{"-7 % 3", "-1", sqltypes.Int},
		{"CAST(5 AS bigint) * 2", "10", sqltypes.BigInt},
		{"1.5 + 1", "2.5", sqltypes.Numeric},
		{"7.0 / 2", "3.500000000000", sqltypes.Numeric},
		{"1e0 / 4", "0.25", sqltypes.Float},
		{"'12' + 1", "13", sqltypes.Int},
		{"'abc' + N'déf'", "abcdéf", sqltypes.NVarChar},
		{"NULL + 1", "NULL", sqltypes.Int},
		{"'a' + NULL", "NULL", sqltypes.NVarChar},
		{"98765432109876543200101 + 1", "98765432109876543200102", sqltypes.Numeric},
		{"CAST('98765432109876543200101' AS numeric(25,0)) - 98765432109876543200001", "100", sqltypes.Numeric},
		{"CAST('2026-11-26T10:00:00' AS datetime) + 1", "2026-11-27 10:00:00.000", sqltypes.DateTime},
		{"CAST('2026-11-26T10:00:00' AS datetime) - 0.5", "2026-11-25 22:00:00.000", sqltypes.DateTime},
		// NULL handling functions
		{"ISNULL(@nothing, 7)", "7", sqltypes.Int},
		{"ISNULL(CAST(NULL AS nvarchar(3)), 'abcdef')", "abc", sqltypes.NVarChar},
		{"COALESCE(NULL, 'x')", "x", sqltypes.NVarChar},
		{"COALESCE(NULL, 1, 2.5)", "1.0", sqltypes.Numeric},
		{"NULLIF(5, 5)", "NULL", sqltypes.Int},
		{"NULLIF('a', 'B')", "a", sqltypes.NVarChar},
		{"CASE 'a' WHEN 'A' THEN 1 ELSE 2 END", "1", sqltypes.Int},
		{"CASE WHEN @nothing = 1 THEN 'one' END", "NULL", sqltypes.NVarChar},
		// strings
		{"UPPER(N'ünïcode')", "ÜNÏCODE", sqltypes.NVarChar},
		{"LOWER('MyDb')", "mydb", sqltypes.NVarChar},
		{"LEN(N'héllo  ')", "5", sqltypes.Int},
		{"LEN(12345)", "5", sqltypes.Int},
		{"DATALENGTH(N'abc  ')", "10", sqltypes.Int},
		{"DATALENGTH(CAST(1 AS bigint))", "8", sqltypes.Int},
		{"LTRIM('  a ') + '|'", "a |", sqltypes.NVarChar},
		{"RTRIM('  a ') + '|'", "  a|", sqltypes.NVarChar},
		{"TRIM('  a ') + '|'", "a|", sqltypes.NVarChar},
		{"SUBSTRING(N'añbcdef', 2, 3)", "ñbc", sqltypes.NVarChar},
		{"SUBSTRING('abc', 0, 2)", "a", sqltypes.NVarChar},
		{"SUBSTRING('abc', 5, 2)", "", sqltypes.NVarChar},
		{"LEFT('abcdef', 2)", "ab", sqltypes.NVarChar},
		{"RIGHT('abcdef', 2)", "ef", sqltypes.NVarChar},
		{"RIGHT('ab', 5)", "ab", sqltypes.NVarChar},
		{"CHARINDEX('DEF', 'abcdefdef')", "4", sqltypes.Int},
		{"CHARINDEX('def', 'abcdefdef', 5)", "7", sqltypes.Int},
		{"CHARINDEX('x', 'abc')", "0", sqltypes.Int},
		{"REPLACE('Hello hello', 'HELLO', 'bye')", "bye bye", sqltypes.NVarChar},
		{"CONCAT('a', NULL, 1, 2.50)", "a12.50", sqltypes.NVarChar},
		{"QUOTENAME('my]db')", "[my]]db]", sqltypes.NVarChar},
		{"QUOTENAME('it''s', '''')", "'it''s'", sqltypes.NVarChar},
		{"QUOTENAME('x', 'x')", "NULL", sqltypes.NVarChar},
		{"REPLICATE('ab', 3)", "ababab", sqltypes.NVarChar},
		// CAST and CONVERT
		{"CAST(' 42 ' AS bigint)", "42", sqltypes.BigInt},
		{"CAST('1.25' AS numeric(5,1))", "1.3", sqltypes.Numeric},
		{"CAST(-1.5 AS numeric(3,0))", "-2", sqltypes.Numeric},
		{"CAST(1.9 AS int)", "1", sqltypes.Int},
		{"CAST('TRUE' AS bit)", "1", sqltypes.Bit},
		{"CAST(12345 AS nvarchar(10))", "12345", sqltypes.NVarChar},
		{"CAST(N'abcdef' AS nvarchar(3))", "abc", sqltypes.NVarChar},
		{"CAST(1234567e0 AS nvarchar(30))", "1.23457e+006", sqltypes.NVarChar},
		{"CAST(0.5e0 AS nvarchar(30))", "0.5", sqltypes.NVarChar},
		{"CAST('2026-11-26T10:15:30.123' AS datetime)", "2026-11-26 10:15:30.123", sqltypes.DateTime},
		{"CAST('2026-11-26T23:59:59.999' AS datetime)", "2026-11-27 00:00:00.000", sqltypes.DateTime},
		{"CAST('20261126 10:15' AS datetime2)", "2026-11-26 10:15:00.000", sqltypes.DateTime2},
		{"CAST('11/26/2026' AS datetime)", "2026-11-26 00:00:00.000", sqltypes.DateTime},
		{"CAST(CAST('2026-11-26T10:15:30' AS datetime) AS date)", "2026-11-26 00:00:00.000", sqltypes.DateTime2},
		{"CONVERT(nvarchar(30), CAST('2026-11-26T10:15:30.123' AS datetime), 121)", "2026-11-26 10:15:30.123", sqltypes.NVarChar},
		{"CONVERT(nvarchar(30), CAST('2026-11-26T10:15:30.123' AS datetime), 120)", "2026-11-26 10:15:30", sqltypes.NVarChar},
		{"CONVERT(nvarchar(30), CAST('2026-11-26T10:15:30.123' AS datetime), 126)", "2026-11-26T10:15:30.123", sqltypes.NVarChar},
		{"CONVERT(nvarchar(30), CAST('2026-11-26T10:15:30' AS datetime), 127)", "2026-11-26T10:15:30", sqltypes.NVarChar},
		{"CONVERT(nvarchar(30), CAST('2026-11-26T10:15:30' AS datetime), 112)", "20261126", sqltypes.NVarChar},
		{"CONVERT(nvarchar(30), CAST('2026-11-06T09:05:30' AS datetime))", "Nov  6 2026  9:05AM", sqltypes.NVarChar},
		{"CONVERT(nvarchar(40), CAST('2026-11-26 10:15:30.1234567' AS datetime2), 126)", "2026-11-26T10:15:30.1234567", sqltypes.NVarChar},
		{"CONVERT(nvarchar(10), GETDATE(), 120)", "2026-11-26", sqltypes.NVarChar},
		{"CAST('6f9619ff-8b86-d011-b42d-00c04fc964ff' AS uniqueidentifier)", "6F9619FF-8B86-D011-B42D-00C04FC964FF", sqltypes.UniqueIdentifier},
		{"CONVERT(nvarchar(20), CAST(N'ab' AS varbinary(10)), 1)", "0x61006200", sqltypes.NVarChar},
		// dates
		{"DATEADD(day, 1, '2026-11-26T10:15:30')", "2026-11-27 10:15:30.000", sqltypes.DateTime},
		{"DATEADD(month, 1, CAST('2026-01-31' AS datetime))", "2026-02-28 00:00:00.000", sqltypes.DateTime},
		{"DATEADD(hh, -36, CAST('2026-11-26T10:00:00' AS datetime2))", "2026-11-24 22:00:00.000", sqltypes.DateTime2},
		{"DATEADD(minute, 90, GETDATE())", "2026-11-26 14:04:56.790", sqltypes.DateTime},
		{"DATEDIFF(day, '2026-11-25T23:59:00', '2026-11-26T00:01:00')", "1", sqltypes.Int},
		{"DATEDIFF(year, '2025-12-31', '2026-01-01')", "1", sqltypes.Int},
		{"DATEDIFF(minute, '2026-11-26T10:00:59', '2026-11-26T10:01:00')", "1", sqltypes.Int},
		{"DATEDIFF(week, '2026-11-21', '2026-11-22')", "1", sqltypes.Int},
		{"DATEDIFF(second, GETDATE(), DATEADD(hour, 1, GETDATE()))", "3600", sqltypes.Int},
		{"DATEDIFF_BIG(millisecond, '2000-01-01', '2026-01-01')", "820540800000", sqltypes.BigInt},
		{"DATEPART(weekday, '2026-11-26')", "5", sqltypes.Int},
		{"DATEPART(quarter, '2026-11-26')", "4", sqltypes.Int},
		{"DATEPART(dy, '2026-02-01')", "32", sqltypes.Int},
		{"YEAR(GETDATE()) * 100 + MONTH(GETDATE())", "202611", sqltypes.Int},
		{"DAY('2026-11-26')", "26", sqltypes.Int},
		// math
		{"ABS(-5)", "5", sqltypes.Int},
		{"ABS(-2.50)", "2.50", sqltypes.Numeric},
		{"ROUND(1.2345, 2)", "1.2300", sqltypes.Numeric},
		{"ROUND(748.58, -1)", "750.00", sqltypes.Numeric},
		{"ROUND(1.2375, 2, 1)", "1.2300", sqltypes.Numeric},
		{"ROUND(1234, -2)", "1200", sqltypes.Int},
		{"FLOOR(-1.5)", "-2", sqltypes.Numeric},
		{"CEILING(1.2)", "2", sqltypes.Numeric},
		{"SIGN(-3)", "-1", sqltypes.Int},
		// environment
		{"GETDATE()", "2026-11-26 12:34:56.789", sqltypes.DateTime},
		{"@@VERSION", "Microsoft SQL Server 2022 (simulated)", sqltypes.NVarChar},
		{"SERVERPROPERTY('Edition')", "Developer Edition (64-bit)", sqltypes.NVarChar},
		{"(SELECT COUNT(*) FROM sys.databases)", "8", sqltypes.Int},
		{"(SELECT name FROM sys.databases WHERE database_id = 42)", "NULL", sqltypes.NVarChar},
		// predicates evaluate to bit (IF conditions)
		{"EXISTS (SELECT 1 FROM sys.databases WHERE name = 'mydb')", "1", sqltypes.Bit},
		{"@n > 5", "0", sqltypes.Bit},
		{"@nothing = 1", "NULL", sqltypes.Bit},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			v, typ, err := Eval(parseExpr(t, tc.expr), newFakeEnv())
			require.NoError(t, err)
			assert.Equal(t, tc.want, render(v))
			assert.Equal(t, tc.typ, typ)
			if v != nil && !isDate(tc.typ) { // time.Time carries both datetime and datetime2
				assert.Equal(t, tc.typ, typeOfValue(v), "Go representation matches the type")
			}
		})
	}
}

func TestTruth(t *testing.T) {
	tests := []struct {
		cond string
		want Logic
	}{
		{"@n = 2", True},
		{"@n <> 2", False},
		{"@nothing = 1", Unknown},
		{"NOT (@nothing = 1)", Unknown},
		{"@nothing = 1 OR 1 = 1", True},
		{"@nothing = 1 AND 1 = 0", False},
		{"@nothing IS NULL", True},
		{"@db = 'MYDB'", True},
		{"NOT EXISTS (SELECT * FROM sys.databases WHERE name = @db)", False},
		{"(SELECT COUNT(*) FROM msdb.dbo.backupset WHERE database_name = @db) > 4", True},
		{"IS_SRVROLEMEMBER('sysadmin') = 1", True},
		{"'abc' LIKE 'A%C'", True},
		{"'abc' LIKE 'ab'", False},
		{"2 NOT BETWEEN 1 AND 3", False},
		{"2 BETWEEN NULL AND 1", False},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			got, err := Truth(parseExpr(t, tc.cond), newFakeEnv())
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name string
		v    any
		from sqltypes.Type
		to   tsql.TypeName
		want string
		typ  sqltypes.Type
	}{
		{"string to numeric(25,0) beyond int64", "98765432109876543200101", sqltypes.NVarChar, tsql.TypeName{Name: "numeric", Args: []int{25, 0}}, "98765432109876543200101", sqltypes.Numeric},
		{"int to numeric(25,0)", int32(123), sqltypes.Int, tsql.TypeName{Name: "numeric", Args: []int{25, 0}}, "123", sqltypes.Numeric},
		{"string to datetime", "2026-11-26 10:15:30.123", sqltypes.NVarChar, tsql.TypeName{Name: "datetime"}, "2026-11-26 10:15:30.123", sqltypes.DateTime},
		{"nvarchar(max) keeps everything", "a long url https://acct.blob.core.windows.net/container/db.bak", sqltypes.NVarChar, tsql.TypeName{Name: "nvarchar", Max: true}, "a long url https://acct.blob.core.windows.net/container/db.bak", sqltypes.NVarChar},
		{"NULL stays NULL with the target type", nil, sqltypes.Int, tsql.TypeName{Name: "nvarchar", Args: []int{10}}, "NULL", sqltypes.NVarChar},
		{"bit from int", int32(7), sqltypes.Int, tsql.TypeName{Name: "bit"}, "1", sqltypes.Bit},
		{"sysname", "MyDb", sqltypes.NVarChar, tsql.TypeName{Name: "sysname"}, "MyDb", sqltypes.NVarChar},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, typ, err := Convert(tc.v, tc.from, tc.to)
			require.NoError(t, err)
			assert.Equal(t, tc.want, render(v))
			assert.Equal(t, tc.typ, typ)
		})
	}

	_, _, err := Convert("abc", sqltypes.NVarChar, tsql.TypeName{Name: "int"})
	assert.Equal(t, int32(245), sqlErrNumber(err))
	_, _, err = Convert("1", sqltypes.NVarChar, tsql.TypeName{Name: "geography"})
	assert.Equal(t, int32(243), sqlErrNumber(err))
}

func TestResultColumnTypes(t *testing.T) {
	res, err := runSQL(t, newFakeEnv(), `SELECT 'x' AS a, 1 AS b, 3000000000 AS c, 1.50 AS d, CAST(1 AS bigint) AS e, NULL AS f,
		GETDATE() AS g, CASE WHEN 1 = 1 THEN 1 ELSE 2.5 END AS h, CAST('y' AS nvarchar(20)) AS i, COUNT(*) AS j`)
	require.NoError(t, err)
	want := []sqltypes.Column{
		{Name: "a", Type: sqltypes.NVarChar, Size: 1},
		{Name: "b", Type: sqltypes.Int},
		{Name: "c", Type: sqltypes.Numeric, Precision: 10},
		{Name: "d", Type: sqltypes.Numeric, Precision: 3, Scale: 2},
		{Name: "e", Type: sqltypes.BigInt},
		{Name: "f", Type: sqltypes.Int},
		{Name: "g", Type: sqltypes.DateTime},
		{Name: "h", Type: sqltypes.Numeric, Precision: 11, Scale: 1},
		{Name: "i", Type: sqltypes.NVarChar, Size: 20},
		{Name: "j", Type: sqltypes.Int},
	}
	assert.Equal(t, want, res.Columns)
	require.Len(t, res.Rows, 1)
	assert.Equal(t, []string{"x", "1", "3000000000", "1.50", "1", "NULL", "2026-11-26 12:34:56.789", "1.0", "y", "1"}, renderRows(res.Rows)[0])

	// An empty result still describes its columns from the catalog.
	res, err = runSQL(t, newFakeEnv(), "SELECT b.first_lsn, b.backup_finish_date, d.name FROM msdb.dbo.backupset b JOIN sys.databases d ON d.name = b.database_name WHERE 1 = 0")
	require.NoError(t, err)
	assert.Empty(t, res.Rows)
	assert.Equal(t, []sqltypes.Column{
		{Name: "first_lsn", Type: sqltypes.Numeric, Precision: 25},
		{Name: "backup_finish_date", Type: sqltypes.DateTime},
		{Name: "name", Type: sqltypes.NVarChar, Size: 128},
	}, res.Columns)
}
