package tsql

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var lexerCases = []parseCase{
	{
		name: "string escapes, N prefix, Unicode and strings spanning lines",
		sql:  "SELECT 'it''s', N'ünï©ødé 日本 🙂', 'line1\nline2', ''",
		want: []Statement{&Select{List: items(str("it's"), nstr("ünï©ødé 日本 🙂"), str("line1\nline2"), str(""))}},
	},
	{
		name: "delimited identifiers with escapes, spaces, quotes and Unicode",
		sql:  `SELECT [a]]b].[c d], "x""y", [it's ñ] FROM [my table] AS "t"`,
		want: []Statement{&Select{
			List: items(&ColumnRef{Name: Name{Parts: []string{"a]b", "c d"}}}, col(`x"y`), col("it's ñ")),
			From: []TableSource{tbl("my table", "t")},
		}},
	},
	{
		name: "numbers, binary, variables and temp names",
		sql:  "SELECT 42, 1.5, .5, 1., 1e3, 12E-2, 0xDEADbeef, 0x, @@ROWCOUNT, @p_1, #t.c, ñame FROM #t",
		want: []Statement{&Select{
			List: items(num("42"), num("1.5"), num(".5"), num("1."), num("1e3"), num("12E-2"), &BinaryLit{Hex: "DEADbeef"},
				&BinaryLit{Hex: ""}, vr("@ROWCOUNT"), vr("p_1"), col("#t.c"), col("ñame")),
			From: []TableSource{tbl("#t", "")},
		}},
	},
	{
		name: "comments anywhere, nested block comments, keywords in any case",
		sql:  "sElEcT /* a /* nested */ still comment */ 1 -- trailing\n  fRoM/**/t wHeRe--x\n a=1",
		want: []Statement{&Select{List: items(num("1")), From: []TableSource{tbl("t", "")}, Where: bin("=", col("a"), num("1"))}},
	},
	{
		name: "statements separated only by whitespace and newlines",
		sql:  "USE master\nSELECT 1\r\nPRINT 'x'\tSET NOCOUNT ON",
		want: []Statement{&Use{Database: "master"}, &Select{List: items(num("1"))}, &Print{Value: str("x")}, &SetOption{Option: "NOCOUNT", Value: "ON"}},
	},
	{
		name: "an identifier of exactly 128 characters is allowed",
		sql:  "SELECT 1 AS " + strings.Repeat("a", 128),
		want: []Statement{&Select{List: []SelectItem{item(num("1"), strings.Repeat("a", 128))}}},
	},
}

func TestLexer(t *testing.T) { runParseCases(t, lexerCases) }

type errorCase struct {
	name   string
	sql    string
	number int32
	line   int
	text   string
}

var errorCases = []errorCase{
	{"unexpected token", "SELECT a FROM t WHERE )", 102, 1, "Incorrect syntax near ')'."},
	{"misplaced keyword", "SELECT a, FROM t", 156, 1, "Incorrect syntax near the keyword 'FROM'."},
	{"keyword quoted as written", "select * from order", 156, 1, "Incorrect syntax near the keyword 'order'."},
	{"end of batch names the last token", "SELECT * FROM", 102, 1, "Incorrect syntax near 'FROM'."},
	{"end of batch after an open parenthesis", "SELECT COUNT(", 102, 1, "Incorrect syntax near '('."},
	{"statement keyword missing its object", "EXEC", 102, 1, "Incorrect syntax near 'EXEC'."},
	{"unknown character", "SELECT ?", 102, 1, "Incorrect syntax near '?'."},
	{"string token quoted by value", "SELECT 'a' 'b' 'c'", 102, 1, "Incorrect syntax near 'c'."},
	{"GO after USE", "USE db\nGO", 102, 2, "Incorrect syntax near 'GO'."},
	{"GO after BACKUP", "BACKUP DATABASE x TO URL = 'https://h/c/b.bak'\nGO\n", 102, 2, "Incorrect syntax near 'GO'."},
	{"GO between two batches", "SET NOCOUNT ON\nGO\nSELECT 1", 102, 2, "Incorrect syntax near 'GO'."},
	{"bare procedure name after the first statement", "SELECT 1; sp_who", 102, 1, "Incorrect syntax near 'sp_who'."},
	{"line counted across comments and strings", "SELECT 1\n/* x\n y */ SELECT 'a\nb'\nSELECT )", 102, 5, "Incorrect syntax near ')'."},
	{"unclosed string", "SELECT 'abc", 105, 1, "Unclosed quotation mark after the character string 'abc'."},
	{"unclosed N string spanning lines", "SELECT 1\nSELECT N'a\nb", 105, 2, "Unclosed quotation mark after the character string 'a\nb'."},
	{"unclosed bracket identifier", "SELECT [abc", 105, 1, "Unclosed quotation mark after the character string 'abc'."},
	{"unclosed quoted identifier", `SELECT "abc`, 105, 1, "Unclosed quotation mark after the character string 'abc'."},
	{"unclosed comment", "SELECT 1 /* a /* b */", 113, 1, "Missing end comment mark '*/'."},
	{"an earlier syntax error beats a later unclosed string", "SELECT ) 'abc", 102, 1, "Incorrect syntax near ')'."},
	{"identifier too long", "SELECT " + strings.Repeat("x", 129), 103, 1,
		"The identifier that starts with '" + strings.Repeat("x", 128) + "' is too long. Maximum length is 128."},
	{"bracketed identifier too long", "SELECT 1 AS [" + strings.Repeat("é", 130) + "]", 103, 1,
		"The identifier that starts with '" + strings.Repeat("é", 128) + "' is too long. Maximum length is 128."},
	{"variable too long", "SELECT @" + strings.Repeat("v", 128), 103, 1,
		"The identifier that starts with '@" + strings.Repeat("v", 127) + "' is too long. Maximum length is 128."},
	{"empty delimited identifier", "SELECT 1 AS []", 1038, 1, "An object or column name is missing or empty. " +
		"For SELECT INTO statements, verify each column has a name. For other statements, look for empty alias names. " +
		"Aliases defined as \"\" or [] are not allowed. Change the alias to a valid name."},
	{"condition where a value is required", "SELECT 1 = 1", 102, 1, "Incorrect syntax near '='."},
	{"parenthesised condition where a value is required", "SELECT (a > 1) FROM t", 102, 1, "Incorrect syntax near '>'."},
	{"chained comparison", "SELECT 1 FROM t WHERE a = 1 = 2", 102, 1, "Incorrect syntax near '='."},
	{"value where a condition is required", "IF 1 PRINT 'x'", 4145, 1,
		"An expression of non-boolean type specified in a context where a condition is expected, near 'PRINT'."},
	{"value before AND", "SELECT 1 FROM t WHERE a AND b = 1", 4145, 1,
		"An expression of non-boolean type specified in a context where a condition is expected, near 'AND'."},
	{"unknown SET option", "SET FOO ON", 195, 1, "'FOO' is not a recognized SET option."},
	{"SET value option given ON", "SET LOCK_TIMEOUT ON", 156, 1, "Incorrect syntax near the keyword 'ON'."},
	{"assignment mixed with retrieval", "SELECT @a = 1, name FROM t", 141, 1,
		"A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations."},
	{"unknown BACKUP option", "BACKUP DATABASE x TO URL = 'u' WITH COPY_ONLY, FOO", 102, 1, "Incorrect syntax near 'FOO'."},
	{"RESTORE-only option in BACKUP", "BACKUP DATABASE x TO URL = 'u' WITH REPLACE", 102, 1, "Incorrect syntax near 'REPLACE'."},
	{"flag given a value", "BACKUP DATABASE x TO URL = 'u' WITH COPY_ONLY = 1", 102, 1, "Incorrect syntax near '='."},
	{"option missing its value", "RESTORE DATABASE x FROM URL = 'u' WITH FILE", 102, 1, "Incorrect syntax near 'FILE'."},
	{"expression as an option value", "RESTORE LOG x FROM URL = 'u' WITH STOPAT = GETDATE()", 102, 1, "Incorrect syntax near 'GETDATE'."},
	{"BACKUP without TO", "BACKUP DATABASE x WITH COPY_ONLY", 156, 1, "Incorrect syntax near the keyword 'WITH'."},
	{"bad recovery model", "ALTER DATABASE x SET RECOVERY FOO", 102, 1, "Incorrect syntax near 'FOO'."},
	{"empty BEGIN END", "BEGIN END", 156, 1, "Incorrect syntax near the keyword 'END'."},
	{"ELSE without IF", "PRINT 1; ELSE PRINT 2", 156, 1, "Incorrect syntax near the keyword 'ELSE'."},
	{"CREATE CREDENTIAL with a variable secret", "CREATE CREDENTIAL c WITH IDENTITY = 'x', SECRET = @s", 102, 1, "Incorrect syntax near '@s'."},
	{"derived table without alias", "SELECT * FROM (SELECT 1 AS a) WHERE 1 = 1", 156, 1, "Incorrect syntax near the keyword 'WHERE'."},
	{"EXEC argument expression", "EXEC p 1 + 1", 102, 1, "Incorrect syntax near '+'."},
	{"nested too deeply", "SELECT " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), 191, 1,
		"Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries."},
	{"NOT chain too deep", "IF " + strings.Repeat("NOT ", 300) + "1 = 1 PRINT 1", 191, 1,
		"Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries."},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(tc.sql)
			assert.Nil(t, b)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, &SyntaxError{Number: tc.number, Class: 15, State: 1, Line: tc.line, Text: tc.text}, se)
		})
	}
}

var unsupportedCases = []struct {
	sql, what string
}{
	{"INSERT INTO t SELECT 1", "INSERT without VALUES (INSERT … SELECT, EXEC, DEFAULT VALUES)"},
	{"update t set a = 1", "UPDATE"},
	{"DELETE FROM t", "DELETE"},
	{"MERGE t USING s ON 1 = 1 WHEN MATCHED THEN DELETE;", "MERGE"},
	{"CREATE TABLE t (a int IDENTITY(1,1))", "CREATE TABLE column option IDENTITY"},
	{"CREATE TABLE t (a int, CONSTRAINT pk PRIMARY KEY (a))", "CREATE TABLE with table constraints"},
	{"CREATE PROCEDURE p AS SELECT 1", "CREATE PROCEDURE"},
	{"DROP TABLE t", "DROP TABLE"},
	{"ALTER TABLE t ADD c int", "ALTER TABLE"},
	{"ALTER SERVER CONFIGURATION SET PROCESS AFFINITY CPU = AUTO", "ALTER SERVER CONFIGURATION"},
	{"TRUNCATE TABLE t", "TRUNCATE"},
	{"BEGIN TRAN; SELECT 1; COMMIT", "BEGIN TRAN"},
	{"BEGIN TRY SELECT 1 END TRY BEGIN CATCH END CATCH", "BEGIN TRY"},
	{"WHILE 1 = 1 BREAK", "WHILE"},
	{"EXEC (@sql)", "EXEC (dynamic SQL string)"},
	{"EXEC @rc = sp_x", "EXEC @return_status = procedure"},
	{"SELECT * INTO #t FROM x", "SELECT … INTO"},
	{"SELECT 1 UNION ALL SELECT 2", "SELECT … UNION"},
	{"SELECT name FROM sys.databases FOR XML PATH", "SELECT … FOR"},
	{"WITH c AS (SELECT 1 AS a) SELECT * FROM c", "WITH (common table expressions)"},
	{"SELECT 1; THROW 50000, 'x', 1", "THROW"},
	{"DECLARE @t TABLE (a int)", "DECLARE @variable TABLE"},
	{"DECLARE c CURSOR FOR SELECT 1", "cursors"},
	{"SELECT ROW_NUMBER() OVER (ORDER BY a) FROM t", "window and ordered-set functions (OVER)"},
	{"SELECT a & 1 FROM t", "bitwise operator &"},
	{"SELECT @n = name FROM sys.databases", "SELECT @variable = … with FROM, WHERE, TOP or other clauses"},
	{"BACKUP CERTIFICATE c TO FILE = 'x'", "BACKUP CERTIFICATE"},
	{"BACKUP DATABASE x FILEGROUP = 'p' TO DISK = 'x'", "file and filegroup backups"},
	{"BACKUP DATABASE x TO mydevice", "logical backup devices"},
	{"ALTER DATABASE x ADD FILE (NAME = a, FILENAME = 'b')", "ALTER DATABASE … ADD"},
	{"ALTER AVAILABILITY GROUP ag ADD DATABASE d", "ALTER AVAILABILITY GROUP … ADD"},
	{"SELECT TOP 10 PERCENT * FROM t", "TOP … PERCENT"},
	{"SELECT * FROM t ORDER BY a OFFSET 5 ROWS", "ORDER BY … OFFSET/FETCH"},
	{"SELECT name FROM sys.databases WHERE name = @p1 COLLATE Latin1_General_CI_AS", "COLLATE in expressions"},
}

func TestParseUnsupported(t *testing.T) {
	for _, tc := range unsupportedCases {
		t.Run(tc.sql, func(t *testing.T) {
			_, err := Parse(tc.sql)
			var ue *UnsupportedError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tc.what, ue.Statement)
			assert.Equal(t, 1, ue.Line)
			assert.Equal(t, "the simulator does not model "+tc.what+" (line 1)", ue.Error())
		})
	}
}

// SQL Server reads the whole batch before running it, so a lexical error anywhere wins over
// a statement the simulator cannot model.
func TestUnsupportedLosesToLexicalError(t *testing.T) {
	_, err := Parse("INSERT INTO t VALUES ('abc")
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, int32(105), se.Number)
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse("SELECT 1\nSELECT )")
	require.Error(t, err)
	assert.Equal(t, "Msg 102, Level 15, State 1, Line 2: Incorrect syntax near ')'.", err.Error())
}

func TestQuoteName(t *testing.T) {
	for _, s := range []string{"plain", "a]b", "]]", "we]ird 'db' ñ", "with space", "日本🙂", `"q"`} {
		t.Run(s, func(t *testing.T) {
			// QUOTENAME's output must read back as exactly the input.
			b, err := Parse("USE " + QuoteName(s))
			require.NoError(t, err)
			assert.Equal(t, []Statement{&Use{Database: s}}, b.Statements)
		})
	}
	assert.Equal(t, "[a]]b]", QuoteName("a]b"))
	assert.Equal(t, "[]", QuoteName(""))
}
