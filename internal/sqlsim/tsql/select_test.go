package tsql

import "testing"

var selectCases = []parseCase{
	{
		name: "catalog query with alias, WHERE and ORDER BY",
		sql:  "SELECT d.name, d.state_desc FROM sys.databases AS d WHERE d.database_id > 4 ORDER BY d.name",
		want: []Statement{&Select{
			List:    items(col("d.name"), col("d.state_desc")),
			From:    []TableSource{tbl("sys.databases", "d")},
			Where:   bin(">", col("d.database_id"), num("4")),
			OrderBy: []OrderItem{{Expr: col("d.name")}},
		}},
	},
	{
		name: "TOP (1) with INNER JOIN and DESC",
		sql: "SELECT TOP (1) bs.first_lsn FROM msdb.dbo.backupset bs INNER JOIN msdb.dbo.backupmediafamily mf " +
			"ON mf.media_set_id = bs.media_set_id WHERE bs.database_name = @p1 ORDER BY bs.backup_finish_date DESC",
		want: []Statement{&Select{
			Top:  num("1"),
			List: items(col("bs.first_lsn")),
			From: []TableSource{&Join{
				Kind:  "INNER",
				Left:  tbl("msdb.dbo.backupset", "bs"),
				Right: tbl("msdb.dbo.backupmediafamily", "mf"),
				On:    bin("=", col("mf.media_set_id"), col("bs.media_set_id")),
			}},
			Where:   bin("=", col("bs.database_name"), vr("p1")),
			OrderBy: []OrderItem{{Expr: col("bs.backup_finish_date"), Desc: true}},
		}},
	},
	{
		name: "global variable and functions without FROM",
		sql:  "SELECT @@VERSION, SERVERPROPERTY('ProductVersion') AS v, IS_SRVROLEMEMBER('sysadmin'), GETDATE()",
		want: []Statement{&Select{List: []SelectItem{
			item(vr("@VERSION"), ""),
			item(fn("SERVERPROPERTY", str("ProductVersion")), "v"),
			item(fn("IS_SRVROLEMEMBER", str("sysadmin")), ""),
			item(fn("GETDATE"), ""),
		}}},
	},
	{
		name: "arithmetic precedence and unary minus",
		sql:  "SELECT 1 + 2 * 3 - -4 % 5, (1 + 2) * 3",
		want: []Statement{&Select{List: items(
			bin("-", bin("+", num("1"), bin("*", num("2"), num("3"))), bin("%", &Unary{Op: "-", Operand: num("4")}, num("5"))),
			bin("*", &Paren{Inner: bin("+", num("1"), num("2"))}, num("3")),
		)}},
	},
	{
		name: "NOT binds tighter than AND, AND tighter than OR",
		sql:  "SELECT a FROM t WHERE NOT a = 1 OR b <> 2 AND c LIKE 'x%'",
		want: []Statement{&Select{
			List: items(col("a")),
			From: []TableSource{tbl("t", "")},
			Where: bin("OR",
				&Unary{Op: "NOT", Operand: bin("=", col("a"), num("1"))},
				bin("AND", bin("<>", col("b"), num("2")), bin("LIKE", col("c"), str("x%")))),
		}},
	},
	{
		name: "predicates: IN, NOT IN subquery, BETWEEN, IS NOT NULL, NOT LIKE, !< and !=",
		sql: "SELECT 1 FROM t WHERE a IN (1, 2) AND b NOT IN (SELECT x FROM u) AND c NOT BETWEEN 1 AND 5 + 1 " +
			"AND d IS NOT NULL AND e IS NULL AND f NOT LIKE N'%z' AND g !< 3 AND h != 4",
		want: []Statement{&Select{
			List: items(num("1")),
			From: []TableSource{tbl("t", "")},
			Where: bin("AND", bin("AND", bin("AND", bin("AND", bin("AND", bin("AND", bin("AND",
				&In{Operand: col("a"), List: []Expr{num("1"), num("2")}},
				&In{Operand: col("b"), Not: true, List: []Expr{&Subquery{Select: &Select{List: items(col("x")), From: []TableSource{tbl("u", "")}}}}}),
				&Between{Operand: col("c"), Lo: num("1"), Hi: bin("+", num("5"), num("1")), Not: true}),
				&IsNull{Operand: col("d"), Not: true}),
				&IsNull{Operand: col("e")}),
				bin("NOT LIKE", col("f"), nstr("%z"))),
				bin(">=", col("g"), num("3"))),
				bin("!=", col("h"), num("4"))),
		}},
	},
	{
		name: "parenthesised conditions and parenthesised values",
		sql:  "SELECT 1 FROM t WHERE (a = 1 OR b = 2) AND (c + 1) * 2 = 4",
		want: []Statement{&Select{
			List: items(num("1")),
			From: []TableSource{tbl("t", "")},
			Where: bin("AND",
				&Paren{Inner: bin("OR", bin("=", col("a"), num("1")), bin("=", col("b"), num("2")))},
				bin("=", bin("*", &Paren{Inner: bin("+", col("c"), num("1"))}, num("2")), num("4"))),
		}},
	},
	{
		name: "CASE in both forms",
		sql: "SELECT CASE WHEN is_read_only = 1 THEN 'RO' WHEN state = 6 THEN 'OFF' ELSE 'RW' END AS mode, " +
			"CASE type WHEN 'D' THEN 1 WHEN 'I' THEN 5 END FROM msdb.dbo.backupset",
		want: []Statement{&Select{
			List: []SelectItem{
				item(&Case{
					Whens: []When{{Cond: bin("=", col("is_read_only"), num("1")), Result: str("RO")}, {Cond: bin("=", col("state"), num("6")), Result: str("OFF")}},
					Else:  str("RW"),
				}, "mode"),
				item(&Case{Operand: col("type"), Whens: []When{{Cond: str("D"), Result: num("1")}, {Cond: str("I"), Result: num("5")}}}, ""),
			},
			From: []TableSource{tbl("msdb.dbo.backupset", "")},
		}},
	},
	{
		name: "CAST and CONVERT with type arguments",
		sql:  "SELECT CAST(first_lsn AS numeric(25,0)), CONVERT(nvarchar(max), backup_start_date, 121), CAST(x AS [sys].[sysname]), CAST(1 AS int)",
		want: []Statement{&Select{List: items(
			&Cast{Operand: col("first_lsn"), Type: TypeName{Name: "numeric", Args: []int{25, 0}}},
			&Cast{Operand: col("backup_start_date"), Type: TypeName{Name: "nvarchar", Max: true}, Style: num("121")},
			&Cast{Operand: col("x"), Type: TypeName{Name: "sysname"}},
			&Cast{Operand: num("1"), Type: TypeName{Name: "int"}},
		)}},
	},
	{
		name: "aggregates, COUNT(*), COUNT(DISTINCT), GROUP BY and HAVING",
		sql:  "SELECT database_name, COUNT(*), COUNT(DISTINCT type), MAX(backup_finish_date) FROM msdb..backupset GROUP BY database_name HAVING COUNT(*) > 1",
		want: []Statement{&Select{
			List:    items(col("database_name"), fn("COUNT", &Star{}), &FuncCall{Name: name("COUNT"), Args: []Expr{col("type")}, Distinct: true}, fn("MAX", col("backup_finish_date"))),
			From:    []TableSource{&TableRef{Name: Name{Parts: []string{"msdb", "", "backupset"}}}},
			GroupBy: []Expr{col("database_name")},
			Having:  bin(">", fn("COUNT", &Star{}), num("1")),
		}},
	},
	{
		name: "reserved words that are functions",
		sql:  "SELECT COALESCE(a, b), NULLIF(a, 0), LEFT(n, 2), RIGHT(n, 1), CURRENT_TIMESTAMP, SYSTEM_USER, ISNULL(a, 0)",
		want: []Statement{&Select{List: items(
			fn("COALESCE", col("a"), col("b")), fn("NULLIF", col("a"), num("0")), fn("LEFT", col("n"), num("2")),
			fn("RIGHT", col("n"), num("1")), fn("CURRENT_TIMESTAMP"), fn("SYSTEM_USER"), fn("ISNULL", col("a"), num("0")),
		)}},
	},
	{
		name: "select item forms: star, qualified star, alias = expr, string aliases, bracketed alias",
		sql:  "SELECT *, d.*, n = d.name, 'label' = 1, d.name AS [the name], 2 'two', 3 AS 'three', 4 four FROM sys.databases d",
		want: []Statement{&Select{
			List: []SelectItem{
				item(&Star{}, ""), item(&Star{Qualifier: "d"}, ""), item(col("d.name"), "n"), item(num("1"), "label"),
				item(col("d.name"), "the name"), item(num("2"), "two"), item(num("3"), "three"), item(num("4"), "four"),
			},
			From: []TableSource{tbl("sys.databases", "d")},
		}},
	},
	{
		name: "DISTINCT and TOP n",
		sql:  "SELECT DISTINCT TOP 5 name FROM master.sys.databases",
		want: []Statement{&Select{Distinct: true, Top: num("5"), List: items(col("name")), From: []TableSource{tbl("master.sys.databases", "")}}},
	},
	{
		name: "joins of every kind, APPLY, table-valued function and hints",
		sql: "SELECT 1 FROM a WITH (NOLOCK) LEFT OUTER JOIN b (NOLOCK) ON a.id = b.id RIGHT JOIN c AS cc ON 1 = 1 " +
			"FULL JOIN d ON d.x = a.x CROSS JOIN e CROSS APPLY sys.fn_x(a.id, N'y') f OUTER APPLY g() INNER HASH JOIN h ON h.k = a.k, z",
		want: []Statement{&Select{
			List: items(num("1")),
			From: []TableSource{
				&Join{Kind: "INNER",
					Left: &Join{Kind: "OUTER APPLY",
						Left: &Join{Kind: "CROSS APPLY",
							Left: &Join{Kind: "CROSS",
								Left: &Join{Kind: "FULL",
									Left: &Join{Kind: "RIGHT",
										Left:  &Join{Kind: "LEFT", Left: tbl("a", ""), Right: tbl("b", ""), On: bin("=", col("a.id"), col("b.id"))},
										Right: tbl("c", "cc"), On: bin("=", num("1"), num("1"))},
									Right: tbl("d", ""), On: bin("=", col("d.x"), col("a.x"))},
								Right: tbl("e", "")},
							Right: &TableRef{Name: name("sys.fn_x"), Args: []Expr{col("a.id"), nstr("y")}, Alias: "f"}},
						Right: &TableRef{Name: name("g"), Args: []Expr{}}},
					Right: tbl("h", ""), On: bin("=", col("h.k"), col("a.k"))},
				tbl("z", ""),
			},
		}},
	},
	{
		name: "derived table, scalar subquery and EXISTS",
		sql: "SELECT x.n, (SELECT MAX(backup_finish_date) FROM msdb.dbo.backupset b WHERE b.database_name = x.n) AS last " +
			"FROM (SELECT name AS n FROM sys.databases) AS x WHERE NOT EXISTS (SELECT 1 FROM t) OR EXISTS (SELECT * FROM u)",
		want: []Statement{&Select{
			List: []SelectItem{
				item(col("x.n"), ""),
				item(&Subquery{Select: &Select{
					List:  items(fn("MAX", col("backup_finish_date"))),
					From:  []TableSource{tbl("msdb.dbo.backupset", "b")},
					Where: bin("=", col("b.database_name"), col("x.n")),
				}}, "last"),
			},
			From: []TableSource{&DerivedTable{Select: &Select{List: []SelectItem{item(col("name"), "n")}, From: []TableSource{tbl("sys.databases", "")}}, Alias: "x"}},
			Where: bin("OR",
				&Exists{Not: true, Select: &Select{List: items(num("1")), From: []TableSource{tbl("t", "")}}},
				&Exists{Select: &Select{List: items(&Star{}), From: []TableSource{tbl("u", "")}}}),
		}},
	},
	{
		name: "SELECT assigning variables without FROM becomes SET",
		sql:  "SELECT @a = 1, @b = N'x' + @c",
		want: []Statement{&SetVariable{Name: "a", Value: num("1")}, &SetVariable{Name: "b", Value: bin("+", nstr("x"), vr("c"))}},
	},
	{
		name: "AG preference function with a variable",
		sql:  "SELECT sys.fn_hadr_backup_is_preferred_replica(@db) AS preferred",
		want: []Statement{&Select{List: []SelectItem{item(fn("sys.fn_hadr_backup_is_preferred_replica", vr("db")), "preferred")}}},
	},
	{
		name: "a trailing GO after a SELECT is a column alias, exactly as SQL Server reads it",
		sql:  "SELECT 1\nGO",
		want: []Statement{&Select{List: []SelectItem{item(num("1"), "GO")}}},
	},
}

func TestParseSelect(t *testing.T) { runParseCases(t, selectCases) }
