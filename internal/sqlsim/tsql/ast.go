// Package tsql reads T-SQL the way SQL Server reads it, for the statements the simulator
// accepts: a lexer (keywords in any case, [bracketed] and "quoted" identifiers with their
// escapes, N'…' literals with ” escapes, -- and /* */ comments, @variables) and a parser
// that turns a batch into statements. A batch it cannot read gets a *SyntaxError carrying
// SQL Server's error number (102 "Incorrect syntax near '%s'.", 156 "Incorrect syntax near
// the keyword '%s'.", 105 unclosed quotation mark, 103 identifier too long).
//
// This file is the contract between the parser and its users (the query evaluator and the
// engine): the AST.
package tsql

// Batch is a parsed batch: the statements in order.
type Batch struct {
	Statements []Statement
}

// Statement is one T-SQL statement.
type Statement interface{ stmt() }

// ---- Names and expressions ----

// Name is a possibly multi-part object name as written: "msdb.dbo.backupset" is
// Parts{"msdb","dbo","backupset"}; an omitted middle part ("msdb..backupset") is "".
// Parts hold the identifier text with quoting removed ([a]]b] → a]b).
type Name struct {
	Parts []string
}

// Last returns the last part (the object name itself).
func (n Name) Last() string {
	if len(n.Parts) == 0 {
		return ""
	}
	return n.Parts[len(n.Parts)-1]
}

// Expr is a scalar expression.
type Expr interface{ expr() }

// StringLit is '…' or N'…' (Unicode true) with escapes removed.
type StringLit struct {
	Value   string
	Unicode bool
}

// NumberLit is an integer or decimal literal as written ("42", "-1" is Unary{"-",42}, "1.5").
type NumberLit struct{ Text string }

// BinaryLit is 0x… (Text without the 0x prefix).
type BinaryLit struct{ Hex string }

// NullLit is NULL.
type NullLit struct{}

// Variable is @name (Name without the @); @@VERSION and friends are Variable with Name
// "@VERSION" (one @ stripped).
type Variable struct{ Name string }

// ColumnRef is a column, possibly qualified: "b.type" is Parts{"b","type"}.
type ColumnRef struct{ Name Name }

// Star is * or alias.* in a select list (Qualifier empty for a bare *).
type Star struct{ Qualifier string }

// FuncCall is name(args): IS_SRVROLEMEMBER('sysadmin'), sys.fn_hadr_backup_is_preferred_replica(@db),
// COUNT(*) (Star arg), SERVERPROPERTY('x'), GETDATE(), DB_ID(), ISNULL(a,b), COALESCE(…),
// MAX(x), etc. Name is as written; the evaluator matches case-insensitively.
type FuncCall struct {
	Name     Name
	Args     []Expr
	Distinct bool // COUNT(DISTINCT x)
}

// Binary is a binary operator: "=", "<>", "!=", "<", ">", "<=", ">=", "AND", "OR",
// "+", "-", "*", "/", "%", "LIKE", "NOT LIKE". Op is upper case.
type Binary struct {
	Op          string
	Left, Right Expr
}

// Unary is "NOT", "-" or "+".
type Unary struct {
	Op      string
	Operand Expr
}

// IsNull is x IS [NOT] NULL.
type IsNull struct {
	Operand Expr
	Not     bool
}

// In is x [NOT] IN (a, b, …).
type In struct {
	Operand Expr
	List    []Expr
	Not     bool
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	Operand, Lo, Hi Expr
	Not             bool
}

// Case is CASE [operand] WHEN … THEN … [ELSE …] END.
type Case struct {
	Operand Expr // nil for a searched CASE
	Whens   []When
	Else    Expr // nil if absent
}

// When is one WHEN … THEN … arm.
type When struct{ Cond, Result Expr }

// Cast is CAST(x AS type) or CONVERT(type, x[, style]).
type Cast struct {
	Operand Expr
	Type    TypeName
	Style   Expr // CONVERT's style, nil otherwise
}

// TypeName is a data type as written: Name lower-cased ("nvarchar", "numeric", "datetime2",
// "bigint"…), Args its parenthesised arguments (Max true for (max)).
type TypeName struct {
	Name string
	Args []int
	Max  bool
}

// Paren is a parenthesised expression (kept so error messages can quote it; evaluators
// simply evaluate Inner).
type Paren struct{ Inner Expr }

// Subquery is a scalar subquery or the argument of EXISTS.
type Subquery struct{ Select *Select }

// Exists is [NOT] EXISTS (subquery).
type Exists struct {
	Select *Select
	Not    bool
}

func (*StringLit) expr() {}
func (*NumberLit) expr() {}
func (*BinaryLit) expr() {}
func (*NullLit) expr()   {}
func (*Variable) expr()  {}
func (*ColumnRef) expr() {}
func (*Star) expr()      {}
func (*FuncCall) expr()  {}
func (*Binary) expr()    {}
func (*Unary) expr()     {}
func (*IsNull) expr()    {}
func (*In) expr()        {}
func (*Between) expr()   {}
func (*Case) expr()      {}
func (*Cast) expr()      {}
func (*Paren) expr()     {}
func (*Subquery) expr()  {}
func (*Exists) expr()    {}

// ---- SELECT ----

// Select is SELECT [DISTINCT] [TOP (n)] list [FROM sources] [WHERE] [GROUP BY] [HAVING] [ORDER BY].
// A SELECT without FROM evaluates its list once (SELECT @@VERSION).
type Select struct {
	Distinct bool
	Top      Expr // nil if absent
	List     []SelectItem
	From     []TableSource // comma-separated sources (cross join); usually one
	Where    Expr
	GroupBy  []Expr
	Having   Expr
	OrderBy  []OrderItem
	// Into is SELECT … INTO: unsupported by the simulator; the parser leaves it nil.
}

// SelectItem is one output column: Expr [AS] alias, alias = Expr, or * / t.*.
type SelectItem struct {
	Expr  Expr
	Alias string // "" if none
}

// OrderItem is expr [ASC|DESC].
type OrderItem struct {
	Expr Expr
	Desc bool
}

// TableSource is a table reference possibly with joins.
type TableSource interface{ tableSource() }

// TableRef is a named table or view: sys.databases AS d, msdb.dbo.backupset b,
// or a table-valued function call sys.fn_x(args) (Args non-nil).
type TableRef struct {
	Name  Name
	Args  []Expr // non-nil for a table-valued function
	Alias string
}

// Join is Left [INNER|LEFT [OUTER]|RIGHT [OUTER]|FULL [OUTER]|CROSS] JOIN Right [ON On].
// Kind is "INNER", "LEFT", "RIGHT", "FULL" or "CROSS"; CROSS APPLY / OUTER APPLY are "CROSS APPLY"/"OUTER APPLY".
type Join struct {
	Kind        string
	Left, Right TableSource
	On          Expr
}

// DerivedTable is (SELECT …) AS alias.
type DerivedTable struct {
	Select *Select
	Alias  string
}

func (*TableRef) tableSource()     {}
func (*Join) tableSource()         {}
func (*DerivedTable) tableSource() {}

func (*Select) stmt() {}

// ---- Session and control ----

// Use is USE db.
type Use struct{ Database string }

// SetOption is SET NOCOUNT ON, SET XACT_ABORT ON, SET LOCK_TIMEOUT 1000, … : Option upper
// case, Value the raw word ("ON", "OFF", "1000").
type SetOption struct {
	Option string
	Value  string
}

// Declare is DECLARE @a type [= expr], @b type …
type Declare struct{ Vars []DeclareVar }

// DeclareVar is one declared variable.
type DeclareVar struct {
	Name  string // without @
	Type  TypeName
	Value Expr // nil if no initializer
}

// SetVariable is SET @a = expr (or SELECT @a = expr, which the parser also maps here
// when every item of the select list assigns a variable and there is no FROM).
type SetVariable struct {
	Name  string
	Value Expr
}

// Exec is EXEC[UTE] proc [@p =] arg, … : a stored procedure call.
type Exec struct {
	Proc Name
	Args []ExecArg
}

// ExecArg is one argument: Name "" for a positional one.
type ExecArg struct {
	Name   string // without @
	Value  Expr
	Output bool
}

// Print is PRINT expr.
type Print struct{ Value Expr }

// Raiserror is RAISERROR(msg, severity, state) — accepted so scripts can signal.
type Raiserror struct {
	Message, Severity, State Expr
	// Args are the substitution arguments after State: RAISERROR('%s failed', 16, 1, @db).
	// (Added by the parser's author: the grammar has them and dropping them would lose the message.)
	Args []Expr
}

// If is IF cond stmt [ELSE stmt]; Block is BEGIN … END.
type If struct {
	Cond Expr
	Then Statement
	Else Statement
}

// Block is BEGIN … END.
type Block struct{ Statements []Statement }

// Waitfor is WAITFOR DELAY 'hh:mm:ss' (Delay) — used to hold a session open in tests.
type Waitfor struct{ Delay Expr }

// Kill is KILL spid.
type Kill struct{ SessionID Expr }

// Checkpoint is CHECKPOINT.
type Checkpoint struct{}

func (*Use) stmt()         {}
func (*SetOption) stmt()   {}
func (*Declare) stmt()     {}
func (*SetVariable) stmt() {}
func (*Exec) stmt()        {}
func (*Print) stmt()       {}
func (*Raiserror) stmt()   {}
func (*If) stmt()          {}
func (*Block) stmt()       {}
func (*Waitfor) stmt()     {}
func (*Kill) stmt()        {}
func (*Checkpoint) stmt()  {}

// ---- Databases ----

// CreateDatabase is CREATE DATABASE name [ON [PRIMARY] (file), … [LOG ON (file), …]]
// or CREATE DATABASE name ON (NAME = …, FILENAME = …) AS SNAPSHOT OF source.
type CreateDatabase struct {
	Name       string
	DataFiles  []FileSpec
	LogFiles   []FileSpec
	SnapshotOf string // non-empty for AS SNAPSHOT OF
}

// FileSpec is (NAME = logical, FILENAME = 'path', SIZE = 8MB, MAXSIZE = …, FILEGROWTH = …).
// Sizes are kept as written ("8MB", "1024KB", "10") for the engine to interpret.
type FileSpec struct {
	Name       string
	FileName   string
	Size       string
	MaxSize    string
	FileGrowth string
}

// DropDatabase is DROP DATABASE [IF EXISTS] a, b.
type DropDatabase struct {
	Names    []string
	IfExists bool
}

// AlterDatabase is ALTER DATABASE name SET option [WITH ROLLBACK IMMEDIATE | NO_WAIT]
// or ALTER DATABASE name MODIFY NAME = new, or ALTER DATABASE name SET HADR …
// Set holds the option words upper-cased: {"RECOVERY","FULL"}, {"READ_ONLY"},
// {"READ_WRITE"}, {"OFFLINE"}, {"ONLINE"}, {"SINGLE_USER"}, {"MULTI_USER"},
// {"HADR","OFF"}, {"EMERGENCY"}.
type AlterDatabase struct {
	Name        string
	Set         []string
	ModifyName  string // non-empty for MODIFY NAME
	Termination string // "ROLLBACK IMMEDIATE", "NO_WAIT", "" — as written, upper case
}

func (*CreateDatabase) stmt() {}
func (*DropDatabase) stmt()   {}
func (*AlterDatabase) stmt()  {}

// ---- Security ----

// CreateCredential is CREATE CREDENTIAL [name] WITH IDENTITY = '…' [, SECRET = '…'];
// AlterCredential the same with ALTER.
type CreateCredential struct {
	Name     string
	Identity string
	Secret   string
	Alter    bool
}

// DropCredential is DROP CREDENTIAL [name].
type DropCredential struct{ Name string }

// CreateLogin is CREATE LOGIN [name] WITH PASSWORD = '…' [, CHECK_POLICY = OFF, …].
type CreateLogin struct {
	Name     string
	Password string
}

// DropLogin is DROP LOGIN [name].
type DropLogin struct{ Name string }

// AlterServerRole is ALTER SERVER ROLE role ADD|DROP MEMBER login.
type AlterServerRole struct {
	Role   string
	Add    bool
	Member string
}

func (*CreateCredential) stmt() {}
func (*DropCredential) stmt()   {}
func (*CreateLogin) stmt()      {}
func (*DropLogin) stmt()        {}
func (*AlterServerRole) stmt()  {}

// ---- Backup and restore ----

// Device is one backup device: URL = '…' (Kind "URL"), DISK = '…' (Kind "DISK"),
// VIRTUAL_DEVICE = '…' (Kind "VIRTUAL_DEVICE"). Value is a string literal or a variable.
type Device struct {
	Kind  string
	Value Expr
}

// Option is one WITH option: Name upper case (COPY_ONLY, DIFFERENTIAL, COMPRESSION,
// NO_COMPRESSION, CHECKSUM, NO_CHECKSUM, FORMAT, INIT, STATS, NAME, DESCRIPTION,
// MAXTRANSFERSIZE, BLOCKSIZE, BUFFERCOUNT, NORECOVERY, RECOVERY, STANDBY, REPLACE,
// STOPAT, STOPATMARK, STOPBEFOREMARK, MOVE, FILE, NO_TRUNCATE, CONTINUE_AFTER_ERROR,
// RESTRICTED_USER, ENCRYPTION, CREDENTIAL, KEEP_REPLICATION, …).
// Value is nil for a flag (STATS without "= n" too). MOVE carries Value = logical name
// and To = physical path. ENCRYPTION's parenthesised list is kept raw in Raw.
type Option struct {
	Name  string
	Value Expr
	To    Expr
	Raw   string
}

// Backup is BACKUP DATABASE|LOG db TO device, … [WITH option, …].
// Kind is "DATABASE" or "LOG". Database is the name or a variable (DatabaseVar).
type Backup struct {
	Kind        string
	Database    string
	DatabaseVar string // non-empty when the database was given as @var
	To          []Device
	// MirrorTo is rejected by the engine (not supported); the parser keeps it.
	MirrorTo []Device
	With     []Option
}

// Restore is RESTORE DATABASE|LOG db [FROM device, …] [WITH …], or RESTORE HEADERONLY |
// FILELISTONLY | VERIFYONLY | LABELONLY FROM device, … [WITH …].
// Kind is "DATABASE", "LOG", "HEADERONLY", "FILELISTONLY", "VERIFYONLY" or "LABELONLY".
// From is empty for RESTORE DATABASE db WITH RECOVERY.
type Restore struct {
	Kind        string
	Database    string
	DatabaseVar string
	From        []Device
	With        []Option
}

func (*Backup) stmt()  {}
func (*Restore) stmt() {}

// ---- Maintenance and availability groups ----

// Dbcc is DBCC command [(args)] [WITH options]: Command upper case (CHECKDB, SQLPERF, …).
type Dbcc struct {
	Command string
	Args    []Expr
	With    []string // upper case: NO_INFOMSGS, ALL_ERRORMSGS, …
}

// AlterAvailabilityGroup is ALTER AVAILABILITY GROUP [ag] FAILOVER | FORCE_FAILOVER_ALLOW_DATA_LOSS
// | SET (AUTOMATED_BACKUP_PREFERENCE = x) | MODIFY REPLICA ON 'server' WITH (BACKUP_PRIORITY = n)
// Action upper case: "FAILOVER", "FORCE_FAILOVER_ALLOW_DATA_LOSS", "SET", "MODIFY REPLICA".
// Options are the parenthesised name = value pairs (names upper case, values as written,
// quotes removed).
type AlterAvailabilityGroup struct {
	Group   string
	Action  string
	Replica string
	Options map[string]string
}

func (*Dbcc) stmt()                   {}
func (*AlterAvailabilityGroup) stmt() {}
