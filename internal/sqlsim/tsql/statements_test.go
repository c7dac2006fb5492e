package tsql

import "testing"

var sessionCases = []parseCase{
	{name: "USE with brackets", sql: "USE [my db]", want: []Statement{&Use{Database: "my db"}}},
	{
		name: "SET options, several at once, and values",
		sql: "SET NOCOUNT ON; set xact_abort off\nSET ANSI_NULLS, QUOTED_IDENTIFIER ON SET LOCK_TIMEOUT -1 SET DEADLOCK_PRIORITY LOW " +
			"SET TRANSACTION ISOLATION LEVEL READ COMMITTED SET STATISTICS IO, TIME OFF SET LANGUAGE N'us_english' SET ROWCOUNT @n",
		want: []Statement{
			&SetOption{Option: "NOCOUNT", Value: "ON"}, &SetOption{Option: "XACT_ABORT", Value: "OFF"},
			&SetOption{Option: "ANSI_NULLS", Value: "ON"}, &SetOption{Option: "QUOTED_IDENTIFIER", Value: "ON"},
			&SetOption{Option: "LOCK_TIMEOUT", Value: "-1"}, &SetOption{Option: "DEADLOCK_PRIORITY", Value: "LOW"},
			&SetOption{Option: "TRANSACTION ISOLATION LEVEL", Value: "READ COMMITTED"},
			&SetOption{Option: "STATISTICS IO", Value: "OFF"}, &SetOption{Option: "STATISTICS TIME", Value: "OFF"},
			&SetOption{Option: "LANGUAGE", Value: "us_english"}, &SetOption{Option: "ROWCOUNT", Value: "@n"},
		},
	},
	{
		name: "SET a variable to an expression and to a subquery",
		sql:  "SET @x = @y + 1; SET @n = (SELECT COUNT(*) FROM sys.databases)",
		want: []Statement{
			&SetVariable{Name: "x", Value: bin("+", vr("y"), num("1"))},
			&SetVariable{Name: "n", Value: &Subquery{Select: &Select{List: items(fn("COUNT", &Star{})), From: []TableSource{tbl("sys.databases", "")}}}},
		},
	},
	{
		name: "compound assignment",
		sql:  "SET @n += 1 SET @s *= @k",
		want: []Statement{
			&SetVariable{Name: "n", Value: bin("+", vr("n"), num("1"))},
			&SetVariable{Name: "s", Value: bin("*", vr("s"), vr("k"))},
		},
	},
	{
		name: "DECLARE several variables with types and initialisers",
		sql:  "DECLARE @a int = 5, @b nvarchar(128) = N'x', @c NVARCHAR(MAX), @d numeric(25,0), @e datetime2(7), @f AS sysname;",
		want: []Statement{&Declare{Vars: []DeclareVar{
			{Name: "a", Type: TypeName{Name: "int"}, Value: num("5")},
			{Name: "b", Type: TypeName{Name: "nvarchar", Args: []int{128}}, Value: nstr("x")},
			{Name: "c", Type: TypeName{Name: "nvarchar", Max: true}},
			{Name: "d", Type: TypeName{Name: "numeric", Args: []int{25, 0}}},
			{Name: "e", Type: TypeName{Name: "datetime2", Args: []int{7}}},
			{Name: "f", Type: TypeName{Name: "sysname"}},
		}}},
	},
	{
		name: "EXEC with named, positional, OUTPUT, negative, NULL and bare-word arguments",
		sql:  "EXEC sp_x @a = 1, @b = @out OUTPUT, 5, -1, NULL, master, 0x0A; EXECUTE dbo.p; exec master.dbo.xp_y N'a'",
		want: []Statement{
			&Exec{Proc: name("sp_x"), Args: []ExecArg{
				{Name: "a", Value: num("1")}, {Name: "b", Value: vr("out"), Output: true}, {Value: num("5")},
				{Value: &Unary{Op: "-", Operand: num("1")}}, {Value: &NullLit{}}, {Value: nstr("master")}, {Value: &BinaryLit{Hex: "0A"}},
			}},
			&Exec{Proc: name("dbo.p")},
			&Exec{Proc: name("master.dbo.xp_y"), Args: []ExecArg{{Value: nstr("a")}}},
		},
	},
	{
		name: "a bare procedure name first in the batch is a call",
		sql:  "sp_who 55\nSELECT 1",
		want: []Statement{&Exec{Proc: name("sp_who"), Args: []ExecArg{{Value: num("55")}}}, &Select{List: items(num("1"))}},
	},
	{
		name: "GO as the first word is a call of procedure GO, as in SQL Server",
		sql:  "GO\nSELECT 1",
		want: []Statement{&Exec{Proc: name("GO")}, &Select{List: items(num("1"))}},
	},
	{
		name: "PRINT and RAISERROR with arguments and WITH NOWAIT",
		sql:  "PRINT 'x' + @y RAISERROR('Backup of %s failed', 16, 1, @db) WITH NOWAIT",
		want: []Statement{
			&Print{Value: bin("+", str("x"), vr("y"))},
			&Raiserror{Message: str("Backup of %s failed"), Severity: num("16"), State: num("1"), Args: []Expr{vr("db")}},
		},
	},
	{
		name: "IF with BEGIN END blocks and ELSE",
		sql:  "IF @x IS NULL\nBEGIN\n  PRINT 'a';\n  SELECT 1\nEND\nELSE PRINT 'b'",
		want: []Statement{&If{
			Cond: &IsNull{Operand: vr("x")},
			Then: &Block{Statements: []Statement{&Print{Value: str("a")}, &Select{List: items(num("1"))}}},
			Else: &Print{Value: str("b")},
		}},
	},
	{
		name: "IF with a semicolon before ELSE, nested IF",
		sql:  "IF 1 = 1 IF @a > 0 PRINT 'a'; ELSE PRINT 'b';",
		want: []Statement{&If{
			Cond: bin("=", num("1"), num("1")),
			Then: &If{Cond: bin(">", vr("a"), num("0")), Then: &Print{Value: str("a")}, Else: &Print{Value: str("b")}},
		}},
	},
	{
		name: "IF EXISTS guarding a DROP",
		sql:  "IF EXISTS (SELECT 1 FROM sys.databases WHERE name = N'x') DROP DATABASE x",
		want: []Statement{&If{
			Cond: &Exists{Select: &Select{List: items(num("1")), From: []TableSource{tbl("sys.databases", "")}, Where: bin("=", col("name"), nstr("x"))}},
			Then: &DropDatabase{Names: []string{"x"}},
		}},
	},
	{
		name: "WAITFOR, KILL, CHECKPOINT run together without separators",
		sql:  "WAITFOR DELAY '00:00:01' KILL 53 CHECKPOINT WAITFOR DELAY @d",
		want: []Statement{
			&Waitfor{Delay: str("00:00:01")}, &Kill{SessionID: num("53")}, &Checkpoint{}, &Waitfor{Delay: vr("d")},
		},
	},
	{
		name: "an IF whose statement expands to several is wrapped in a block",
		sql:  "IF 1 = 1 SET ANSI_NULLS, ANSI_PADDING ON",
		want: []Statement{&If{
			Cond: bin("=", num("1"), num("1")),
			Then: &Block{Statements: []Statement{&SetOption{Option: "ANSI_NULLS", Value: "ON"}, &SetOption{Option: "ANSI_PADDING", Value: "ON"}}},
		}},
	},
	{name: "empty batch", sql: "  -- nothing\n/* at all */ ;; ", want: nil},
}

var databaseCases = []parseCase{
	{name: "CREATE DATABASE plain", sql: "CREATE DATABASE [x]", want: []Statement{&CreateDatabase{Name: "x"}}},
	{
		name: "CREATE DATABASE with files, filegroup, log, collation and options",
		sql: "CREATE DATABASE sales CONTAINMENT = NONE ON PRIMARY\n" +
			"(NAME = sales, FILENAME = N'/var/opt/mssql/data/sales.mdf', SIZE = 8MB, MAXSIZE = UNLIMITED, FILEGROWTH = 64MB),\n" +
			"FILEGROUP fg2 DEFAULT (FILENAME = '/d/s2.ndf', NAME = N's2', size = 1gb)\n" +
			"LOG ON (NAME = sales_log, FILENAME = N'/l/sales.ldf', SIZE = 8192KB, FILEGROWTH = 10%)\n" +
			"COLLATE SQL_Latin1_General_CP1_CI_AS WITH TRUSTWORTHY ON, DB_CHAINING OFF",
		want: []Statement{&CreateDatabase{
			Name: "sales",
			DataFiles: []FileSpec{
				{Name: "sales", FileName: "/var/opt/mssql/data/sales.mdf", Size: "8MB", MaxSize: "UNLIMITED", FileGrowth: "64MB"},
				{Name: "s2", FileName: "/d/s2.ndf", Size: "1GB"},
			},
			LogFiles: []FileSpec{{Name: "sales_log", FileName: "/l/sales.ldf", Size: "8192KB", FileGrowth: "10%"}},
		}},
	},
	{
		name: "CREATE DATABASE AS SNAPSHOT OF",
		sql:  "CREATE DATABASE snap ON (NAME = x, FILENAME = 'x.ss') AS SNAPSHOT OF [x]",
		want: []Statement{&CreateDatabase{Name: "snap", DataFiles: []FileSpec{{Name: "x", FileName: "x.ss"}}, SnapshotOf: "x"}},
	},
	{
		name: "DROP DATABASE IF EXISTS with several names",
		sql:  `DROP DATABASE IF EXISTS a, [b c], "d""e"`,
		want: []Statement{&DropDatabase{IfExists: true, Names: []string{"a", "b c", `d"e`}}},
	},
	{
		name: "ALTER DATABASE SET forms and terminations",
		sql: "ALTER DATABASE x SET RECOVERY FULL\nALTER DATABASE x SET SINGLE_USER WITH ROLLBACK IMMEDIATE\n" +
			"ALTER DATABASE x SET OFFLINE WITH ROLLBACK AFTER 30 SECONDS\nALTER DATABASE x SET HADR OFF\n" +
			"ALTER DATABASE x SET HADR AVAILABILITY GROUP = [ag1]\nALTER DATABASE [x] SET read_only WITH NO_WAIT\n" +
			`ALTER DATABASE "q" SET EMERGENCY ALTER DATABASE x SET RECOVERY bulk_logged`,
		want: []Statement{
			&AlterDatabase{Name: "x", Set: []string{"RECOVERY", "FULL"}},
			&AlterDatabase{Name: "x", Set: []string{"SINGLE_USER"}, Termination: "ROLLBACK IMMEDIATE"},
			&AlterDatabase{Name: "x", Set: []string{"OFFLINE"}, Termination: "ROLLBACK AFTER 30"},
			&AlterDatabase{Name: "x", Set: []string{"HADR", "OFF"}},
			&AlterDatabase{Name: "x", Set: []string{"HADR", "AVAILABILITY", "GROUP", "ag1"}},
			&AlterDatabase{Name: "x", Set: []string{"READ_ONLY"}, Termination: "NO_WAIT"},
			&AlterDatabase{Name: "q", Set: []string{"EMERGENCY"}},
			&AlterDatabase{Name: "x", Set: []string{"RECOVERY", "BULK_LOGGED"}},
		},
	},
	{
		name: "ALTER DATABASE with several options, generic ones kept as words",
		sql:  "ALTER DATABASE x SET RECOVERY SIMPLE, PAGE_VERIFY CHECKSUM, COMPATIBILITY_LEVEL = 160 WITH NO_WAIT",
		want: []Statement{
			&AlterDatabase{Name: "x", Set: []string{"RECOVERY", "SIMPLE"}, Termination: "NO_WAIT"},
			&AlterDatabase{Name: "x", Set: []string{"PAGE_VERIFY", "CHECKSUM"}, Termination: "NO_WAIT"},
			&AlterDatabase{Name: "x", Set: []string{"COMPATIBILITY_LEVEL", "160"}, Termination: "NO_WAIT"},
		},
	},
	{
		name: "ALTER DATABASE MODIFY NAME",
		sql:  "ALTER DATABASE [old] MODIFY NAME = [new name]",
		want: []Statement{&AlterDatabase{Name: "old", ModifyName: "new name"}},
	},
}

var securityCases = []parseCase{
	{
		name: "CREATE CREDENTIAL named after a container URL",
		sql:  "CREATE CREDENTIAL [https://host.example/container] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = 'sv=2022&sig=a%2B''b'",
		want: []Statement{&CreateCredential{Name: "https://host.example/container", Identity: "SHARED ACCESS SIGNATURE", Secret: "sv=2022&sig=a%2B'b"}},
	},
	{
		name: "ALTER CREDENTIAL and DROP CREDENTIAL",
		sql:  "ALTER CREDENTIAL c WITH IDENTITY = N'x' DROP CREDENTIAL [https://h/c]",
		want: []Statement{&CreateCredential{Name: "c", Identity: "x", Alter: true}, &DropCredential{Name: "https://h/c"}},
	},
	{
		name: "CREATE LOGIN with options, DROP LOGIN",
		sql:  "CREATE LOGIN [bob] WITH PASSWORD = N'p@ss''w0rd' MUST_CHANGE, CHECK_POLICY = OFF, DEFAULT_DATABASE = [master]; DROP LOGIN bob",
		want: []Statement{&CreateLogin{Name: "bob", Password: "p@ss'w0rd"}, &DropLogin{Name: "bob"}},
	},
	{
		name: "ALTER SERVER ROLE ADD and DROP MEMBER",
		sql:  "ALTER SERVER ROLE [sysadmin] ADD MEMBER [bob] ALTER SERVER ROLE sysadmin DROP MEMBER bob",
		want: []Statement{&AlterServerRole{Role: "sysadmin", Add: true, Member: "bob"}, &AlterServerRole{Role: "sysadmin", Member: "bob"}},
	},
}

var backupCases = []parseCase{
	{
		name: "striped backup to URL of a database with an awkward name",
		sql:  "BACKUP DATABASE [we]]ird 'db' ñ] TO URL = N'https://a.b/c/d_1.bak', URL = N'https://a.b/c/d_2.bak' WITH COPY_ONLY, CHECKSUM, STATS = 5, FORMAT, MAXTRANSFERSIZE = 4194304",
		want: []Statement{&Backup{
			Kind: "DATABASE", Database: "we]ird 'db' ñ",
			To:   []Device{{Kind: "URL", Value: nstr("https://a.b/c/d_1.bak")}, {Kind: "URL", Value: nstr("https://a.b/c/d_2.bak")}},
			With: []Option{{Name: "COPY_ONLY"}, {Name: "CHECKSUM"}, opt("STATS", num("5")), {Name: "FORMAT"}, opt("MAXTRANSFERSIZE", num("4194304"))},
		}},
	},
	{
		name: "BACKUP LOG with variables, lower case, comments and newlines",
		sql:  "backup /* the log */ log @db\n  to url = @u1 , URL=@u2 -- stripes\n  with no_compression,\n name = N'x' , stats , DESCRIPTION = @d",
		want: []Statement{&Backup{
			Kind: "LOG", DatabaseVar: "db",
			To:   []Device{{Kind: "URL", Value: vr("u1")}, {Kind: "URL", Value: vr("u2")}},
			With: []Option{{Name: "NO_COMPRESSION"}, opt("NAME", nstr("x")), {Name: "STATS"}, opt("DESCRIPTION", vr("d"))},
		}},
	},
	{
		name: "MIRROR TO and ENCRYPTION kept raw",
		sql:  "BACKUP DATABASE x TO DISK = '/a.bak' MIRROR TO DISK = '/b.bak' WITH FORMAT, ENCRYPTION (ALGORITHM = AES_256, SERVER CERTIFICATE = c), DIFFERENTIAL",
		want: []Statement{&Backup{
			Kind: "DATABASE", Database: "x",
			To:       []Device{{Kind: "DISK", Value: str("/a.bak")}},
			MirrorTo: []Device{{Kind: "DISK", Value: str("/b.bak")}},
			With:     []Option{{Name: "FORMAT"}, {Name: "ENCRYPTION", Raw: "ALGORITHM = AES_256, SERVER CERTIFICATE = c"}, {Name: "DIFFERENTIAL"}},
		}},
	},
	{
		name: "BACKUP to a virtual device",
		sql:  "BACKUP DATABASE x TO VIRTUAL_DEVICE = 'vd1' WITH BUFFERCOUNT = 8, BLOCKSIZE = 65536",
		want: []Statement{&Backup{
			Kind: "DATABASE", Database: "x",
			To:   []Device{{Kind: "VIRTUAL_DEVICE", Value: str("vd1")}},
			With: []Option{opt("BUFFERCOUNT", num("8")), opt("BLOCKSIZE", num("65536"))},
		}},
	},
	{
		name: "RESTORE LOG with NORECOVERY and STOPAT variable",
		sql:  "RESTORE LOG x FROM URL = @u WITH NORECOVERY, STOPAT = @t",
		want: []Statement{&Restore{Kind: "LOG", Database: "x", From: []Device{{Kind: "URL", Value: vr("u")}}, With: []Option{{Name: "NORECOVERY"}, opt("STOPAT", vr("t"))}}},
	},
	{
		name: "RESTORE DATABASE with MOVE, FILE, REPLACE and friends",
		sql: "RESTORE DATABASE x FROM URL = 'a', URL = 'b' WITH FILE = 1, MOVE N'x' TO N'/d/x.mdf', MOVE 'x_log' TO '/l/x.ldf', " +
			"REPLACE, STATS = 5, CHECKSUM, CONTINUE_AFTER_ERROR, KEEP_REPLICATION, STANDBY = '/u.tuf', RESTRICTED_USER",
		want: []Statement{&Restore{
			Kind: "DATABASE", Database: "x",
			From: []Device{{Kind: "URL", Value: str("a")}, {Kind: "URL", Value: str("b")}},
			With: []Option{
				opt("FILE", num("1")), {Name: "MOVE", Value: nstr("x"), To: nstr("/d/x.mdf")}, {Name: "MOVE", Value: str("x_log"), To: str("/l/x.ldf")},
				{Name: "REPLACE"}, opt("STATS", num("5")), {Name: "CHECKSUM"}, {Name: "CONTINUE_AFTER_ERROR"}, {Name: "KEEP_REPLICATION"},
				opt("STANDBY", str("/u.tuf")), {Name: "RESTRICTED_USER"},
			},
		}},
	},
	{
		name: "RESTORE DATABASE WITH RECOVERY has no FROM",
		sql:  "RESTORE DATABASE [x] WITH RECOVERY",
		want: []Statement{&Restore{Kind: "DATABASE", Database: "x", With: flags("RECOVERY")}},
	},
	{
		name: "STOPATMARK with AFTER, STOPBEFOREMARK",
		sql:  "RESTORE LOG x FROM DISK = 'l' WITH STOPATMARK = 'lsn:123' AFTER '2024-01-01', RECOVERY; RESTORE LOG x FROM DISK = 'l' WITH STOPBEFOREMARK = 'm'",
		want: []Statement{
			&Restore{Kind: "LOG", Database: "x", From: []Device{{Kind: "DISK", Value: str("l")}}, With: []Option{{Name: "STOPATMARK", Value: str("lsn:123"), To: str("2024-01-01")}, {Name: "RECOVERY"}}},
			&Restore{Kind: "LOG", Database: "x", From: []Device{{Kind: "DISK", Value: str("l")}}, With: []Option{opt("STOPBEFOREMARK", str("m"))}},
		},
	},
	{
		name: "RESTORE HEADERONLY, FILELISTONLY, VERIFYONLY, LABELONLY",
		sql:  "RESTORE HEADERONLY FROM URL = N'u' RESTORE FILELISTONLY FROM URL = 'u' WITH FILE = 2 RESTORE VERIFYONLY FROM URL = 'u' WITH CHECKSUM RESTORE LABELONLY FROM URL = 'u'",
		want: []Statement{
			&Restore{Kind: "HEADERONLY", From: []Device{{Kind: "URL", Value: nstr("u")}}},
			&Restore{Kind: "FILELISTONLY", From: []Device{{Kind: "URL", Value: str("u")}}, With: []Option{opt("FILE", num("2"))}},
			&Restore{Kind: "VERIFYONLY", From: []Device{{Kind: "URL", Value: str("u")}}, With: flags("CHECKSUM")},
			&Restore{Kind: "LABELONLY", From: []Device{{Kind: "URL", Value: str("u")}}},
		},
	},
	{
		name: "RESTORE from a database snapshot",
		sql:  "RESTORE DATABASE x FROM DATABASE_SNAPSHOT = 'snap'",
		want: []Statement{&Restore{Kind: "DATABASE", Database: "x", From: []Device{{Kind: "DATABASE_SNAPSHOT", Value: str("snap")}}}},
	},
}

var maintenanceCases = []parseCase{
	{
		name: "DBCC CHECKDB with arguments and options",
		sql:  "DBCC CHECKDB (N'db', NOINDEX) WITH NO_INFOMSGS, ALL_ERRORMSGS, MAXDOP = 2",
		want: []Statement{&Dbcc{Command: "CHECKDB", Args: []Expr{nstr("db"), col("NOINDEX")}, With: []string{"NO_INFOMSGS", "ALL_ERRORMSGS", "MAXDOP=2"}}},
	},
	{
		name: "DBCC without arguments and with others",
		sql:  "dbcc checkdb DBCC SQLPERF(LOGSPACE) DBCC TRACEON(3604, -1)",
		want: []Statement{
			&Dbcc{Command: "CHECKDB"},
			&Dbcc{Command: "SQLPERF", Args: []Expr{col("LOGSPACE")}},
			&Dbcc{Command: "TRACEON", Args: []Expr{num("3604"), &Unary{Op: "-", Operand: num("1")}}},
		},
	},
	{
		name: "ALTER AVAILABILITY GROUP actions",
		sql: "ALTER AVAILABILITY GROUP [ag] FAILOVER; ALTER AVAILABILITY GROUP ag FORCE_FAILOVER_ALLOW_DATA_LOSS; " +
			"ALTER AVAILABILITY GROUP ag SET (AUTOMATED_BACKUP_PREFERENCE = SECONDARY); " +
			"ALTER AVAILABILITY GROUP ag MODIFY REPLICA ON N'srv\\inst' WITH (BACKUP_PRIORITY = 50); " +
			"ALTER AVAILABILITY GROUP ag MODIFY REPLICA ON 'srv' WITH (SECONDARY_ROLE (ALLOW_CONNECTIONS = ALL))",
		want: []Statement{
			&AlterAvailabilityGroup{Group: "ag", Action: "FAILOVER"},
			&AlterAvailabilityGroup{Group: "ag", Action: "FORCE_FAILOVER_ALLOW_DATA_LOSS"},
			&AlterAvailabilityGroup{Group: "ag", Action: "SET", Options: map[string]string{"AUTOMATED_BACKUP_PREFERENCE": "SECONDARY"}},
			&AlterAvailabilityGroup{Group: "ag", Action: "MODIFY REPLICA", Replica: `srv\inst`, Options: map[string]string{"BACKUP_PRIORITY": "50"}},
			&AlterAvailabilityGroup{Group: "ag", Action: "MODIFY REPLICA", Replica: "srv", Options: map[string]string{"SECONDARY_ROLE": "ALLOW_CONNECTIONS = ALL"}},
		},
	},
}

func TestParseSession(t *testing.T)     { runParseCases(t, sessionCases) }
func TestParseDatabase(t *testing.T)    { runParseCases(t, databaseCases) }
func TestParseSecurity(t *testing.T)    { runParseCases(t, securityCases) }
func TestParseBackup(t *testing.T)      { runParseCases(t, backupCases) }
func TestParseMaintenance(t *testing.T) { runParseCases(t, maintenanceCases) }

// The workload's statements: CREATE TABLE and INSERT … VALUES, as the acceptance suite
// writes them (three-part names, bracketed identifiers, several rows per INSERT).
var tableCases = []parseCase{
	{
		name: "CREATE TABLE with a three-part name, NULL options and a column PRIMARY KEY",
		sql:  "CREATE TABLE [Shop].dbo.[work load] (id int NOT NULL PRIMARY KEY CLUSTERED, step bigint NULL, payload NVARCHAR(100) not null, at datetime2(7))",
		want: []Statement{&CreateTable{Name: Name{Parts: []string{"Shop", "dbo", "work load"}}, Columns: []ColumnDef{
			{Name: "id", Type: TypeName{Name: "int"}, NotNull: true, PrimaryKey: true},
			{Name: "step", Type: TypeName{Name: "bigint"}},
			{Name: "payload", Type: TypeName{Name: "nvarchar", Args: []int{100}}, NotNull: true},
			{Name: "at", Type: TypeName{Name: "datetime2", Args: []int{7}}},
		}}},
	},
	{
		name: "INSERT with a column list and several rows; INTO is optional",
		sql:  "INSERT INTO Shop.dbo.t (id, payload) VALUES (1, N'a'), (@p1, NULL); INSERT t VALUES (2, 'b')",
		want: []Statement{
			&Insert{Table: Name{Parts: []string{"Shop", "dbo", "t"}}, Columns: []string{"id", "payload"},
				Rows: [][]Expr{{num("1"), &StringLit{Value: "a", Unicode: true}}, {vr("p1"), &NullLit{}}}},
			&Insert{Table: Name{Parts: []string{"t"}}, Rows: [][]Expr{{num("2"), &StringLit{Value: "b"}}}},
		},
	},
}

func TestParseTables(t *testing.T) { runParseCases(t, tableCases) }
