package sqlsim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/sqlsim/query"
	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tds"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
)

// session is one client connection's state (a SPID).
type session struct {
	in      *Instance
	id      uint16
	login   string
	loginDB string // the database the login opened; RESETCONNECTION returns to it

	mu   sync.Mutex
	db   string
	vars map[string]variable // batch-scoped variables and sp_executesql parameters
	// rowcount and lastError back @@ROWCOUNT and @@ERROR.
	rowcount int64
	lastErr  int32
}

type variable struct {
	typ   sqltypes.Type
	value any
	decl  *tsql.TypeName // the DECLAREd type, which assignments convert to (nil for parameters)
}

func (s *session) ID() uint16 { return s.id }

func (s *session) Database() string { return s.currentDB() }

func (s *session) currentDB() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db
}

func (s *session) setDB(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db = name
}

// Reset is sp_reset_connection: go-mssqldb asks for it before every request on a pooled
// connection, and SQL Server then returns the session to its login database.
func (s *session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vars = map[string]variable{}
	s.db = s.loginDB
}

func (s *session) Close() {
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	delete(s.in.sessions, s.id)
}

// errBatchAborted stops the rest of a batch after an error was already sent.
var errBatchAborted = errors.New("batch aborted")

// Exec runs one batch. Errors stop the batch (as with XACT_ABORT ON): the product sends one
// statement per batch, and a stopped batch can never be mistaken for a successful one.
func (s *session) Exec(ctx context.Context, sql string, params []tds.Param, w tds.ResultWriter) {
	s.mu.Lock()
	s.vars = map[string]variable{}
	for _, p := range params {
		s.vars[strings.ToLower(p.Name)] = variable{typ: p.Type, value: p.Value}
	}
	s.mu.Unlock()

	batch, err := tsql.Parse(sql)
	if err != nil {
		s.sendErr(w, err)
		return
	}
	x := &executor{s: s, ctx: ctx, w: w}
	for _, st := range batch.Statements {
		if err := x.run(st); err != nil {
			if !errors.Is(err, errBatchAborted) {
				s.sendErr(w, err)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
	s.in.stallReply(ctx, sql)
}

// sendErr writes err as an ERROR token (or tokens) and ends the statement.
func (s *session) sendErr(w tds.ResultWriter, err error) {
	var msgs []tds.Message
	var me *multiError
	switch {
	case errors.As(err, &me):
		for _, e := range me.errs {
			msgs = append(msgs, toMessage(e))
		}
	default:
		msgs = append(msgs, toMessage(err))
	}
	for _, m := range msgs {
		s.mu.Lock()
		s.lastErr = m.Number
		s.mu.Unlock()
		_ = w.Message(m)
	}
	_ = w.Done(0, false)
}

// toMessage converts an engine, parser or evaluator error into a TDS message.
func toMessage(err error) tds.Message {
	var se *sqltypes.Error
	var pe *tsql.SyntaxError
	var ue *tsql.UnsupportedError
	switch {
	case errors.As(err, &se):
		return tds.Message{Number: se.Number, Class: se.Class, State: se.State, Text: se.Text}
	case errors.As(err, &pe):
		return tds.Message{Number: pe.Number, Class: pe.Class, State: pe.State, Text: pe.Text, Line: int32(pe.Line)}
	case errors.As(err, &ue):
		return tds.Message{Number: 40000, Class: 16, State: 1,
			Text: fmt.Sprintf("The SQL Server simulator does not model the %s statement (see internal/sqlsim/README.md).", ue.Statement)}
	}
	return tds.Message{Number: 50000, Class: 16, State: 1, Text: err.Error()}
}

// multiError is a statement failure that SQL Server reports as several errors, e.g. the
// cause and then 3013 "BACKUP DATABASE is terminating abnormally."
type multiError struct{ errs []error }

func (m *multiError) Error() string {
	parts := make([]string, len(m.errs))
	for i, e := range m.errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (m *multiError) Unwrap() []error { return m.errs }

// executor runs the statements of one batch.
type executor struct {
	s   *session
	ctx context.Context
	w   tds.ResultWriter
}

func (x *executor) info(number int32, format string, args ...any) {
	_ = x.w.Message(tds.Message{Number: number, Class: 10, State: 1, Text: fmt.Sprintf(format, args...)})
}

func (x *executor) done(count int64, hasCount bool) error {
	x.s.mu.Lock()
	x.s.rowcount = count
	x.s.lastErr = 0
	x.s.mu.Unlock()
	return x.w.Done(count, hasCount)
}

func (x *executor) run(st tsql.Statement) error {
	switch st := st.(type) {
	case *tsql.Select:
		return x.selectStmt(st)
	case *tsql.Use:
		return x.use(st)
	case *tsql.SetOption:
		return x.done(0, false)
	case *tsql.Declare:
		return x.declare(st)
	case *tsql.SetVariable:
		v, t, err := query.Eval(st.Value, x.env())
		if err != nil {
			return err
		}
		return x.assign(st.Name, v, t)
	case *tsql.Print:
		v, _, err := query.Eval(st.Value, x.env())
		if err != nil {
			return err
		}
		_ = x.w.Message(tds.Message{Number: 0, Class: 0, State: 1, Text: fmt.Sprint(displayValue(v))})
		return x.done(0, false)
	case *tsql.Raiserror:
		return x.raiserror(st)
	case *tsql.If:
		return x.ifStmt(st)
	case *tsql.Block:
		for _, inner := range st.Statements {
			if err := x.run(inner); err != nil {
				return err
			}
		}
		return nil
	case *tsql.Waitfor:
		return x.waitfor(st)
	case *tsql.Checkpoint:
		return x.checkpoint()
	case *tsql.Exec:
		return x.exec(st)
	case *tsql.CreateDatabase:
		return x.createDatabase(st)
	case *tsql.DropDatabase:
		return x.dropDatabase(st)
	case *tsql.AlterDatabase:
		return x.alterDatabase(st)
	case *tsql.CreateCredential:
		return x.createCredential(st)
	case *tsql.DropCredential:
		return x.dropCredential(st)
	case *tsql.CreateLogin:
		return x.createLogin(st)
	case *tsql.DropLogin:
		return x.dropLogin(st)
	case *tsql.AlterServerRole:
		return x.alterServerRole(st)
	case *tsql.Backup:
		return x.backup(st)
	case *tsql.Restore:
		return x.restore(st)
	case *tsql.Dbcc:
		return x.dbcc(st)
	case *tsql.AlterAvailabilityGroup:
		return x.alterAG(st)
	case *tsql.Kill:
		return x.kill(st)
	case *tsql.CreateTable:
		return x.createTable(st)
	case *tsql.Insert:
		return x.insert(st)
	}
	return &tsql.UnsupportedError{Statement: fmt.Sprintf("%T", st)}
}

func (x *executor) env() *env { return &env{x: x} }

func (x *executor) selectStmt(st *tsql.Select) error {
	t, err := query.Select(st, x.env())
	if err != nil {
		return err
	}
	if err := x.w.Columns(t.Columns); err != nil {
		return err
	}
	for _, row := range t.Rows {
		if err := x.w.Row(row); err != nil {
			return err
		}
	}
	return x.done(int64(len(t.Rows)), true)
}

func (x *executor) use(st *tsql.Use) error {
	in := x.s.in
	in.mu.Lock()
	db, ok := in.dbs[strings.ToUpper(st.Database)]
	var err error
	switch {
	case !ok:
		err = sqlErr(911, "Database '%s' does not exist. Make sure that the name is entered correctly.", st.Database)
	case db.state == StateRestoring:
		err = sqlErr(927, "Database '%s' cannot be opened. It is in the middle of a restore.", db.name)
	case db.state != StateOnline:
		err = sqlErr(942, "Database '%s' cannot be opened because it is offline.", db.name)
	case db.userAccess == "SINGLE_USER" && len(in.sessionsUsingLocked(db.name, x.s.id)) > 0:
		err = sqlErr(924, "Database '%s' is already open and can only have one user at a time.", db.name)
	}
	in.mu.Unlock()
	if err != nil {
		return err
	}
	old := x.s.currentDB()
	x.s.setDB(db.name)
	_ = x.w.DatabaseChanged(old, db.name)
	x.info(5701, "Changed database context to '%s'.", db.name)
	return x.done(0, false)
}

func (x *executor) declare(st *tsql.Declare) error {
	for _, v := range st.Vars {
		var val any
		t := sqlTypeOf(v.Type)
		if v.Value != nil {
			ev, et, err := query.Eval(v.Value, x.env())
			if err != nil {
				return err
			}
			cv, ct, err := query.Convert(ev, et, v.Type)
			if err != nil {
				return err
			}
			val, t = cv, ct
		}
		decl := v.Type
		x.s.mu.Lock()
		x.s.vars[strings.ToLower(v.Name)] = variable{typ: t, value: val, decl: &decl}
		x.s.mu.Unlock()
	}
	return nil
}

func (x *executor) assign(name string, v any, t sqltypes.Type) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	cur, ok := x.s.vars[strings.ToLower(name)]
	if !ok {
		return sqlErr(137, "Must declare the scalar variable \"@%s\".", name)
	}
	if cur.decl != nil && v != nil {
		cv, ct, err := query.Convert(v, t, *cur.decl)
		if err != nil {
			return err
		}
		v, t = cv, ct
	}
	x.s.vars[strings.ToLower(name)] = variable{typ: t, value: v, decl: cur.decl}
	return nil
}

// sqlTypeOf maps a declared type name to the simulator's value types.
func sqlTypeOf(t tsql.TypeName) sqltypes.Type {
	switch strings.ToLower(t.Name) {
	case "int":
		return sqltypes.Int
	case "bigint":
		return sqltypes.BigInt
	case "smallint":
		return sqltypes.SmallInt
	case "tinyint":
		return sqltypes.TinyInt
	case "bit":
		return sqltypes.Bit
	case "numeric", "decimal":
		return sqltypes.Numeric
	case "float", "real":
		return sqltypes.Float
	case "datetime", "smalldatetime":
		return sqltypes.DateTime
	case "datetime2", "date", "datetimeoffset":
		return sqltypes.DateTime2
	case "uniqueidentifier":
		return sqltypes.UniqueIdentifier
	case "varbinary", "binary":
		return sqltypes.VarBinary
	}
	return sqltypes.NVarChar
}

func (x *executor) raiserror(st *tsql.Raiserror) error {
	msg, _, err := query.Eval(st.Message, x.env())
	if err != nil {
		return err
	}
	sev, _, err := query.Eval(st.Severity, x.env())
	if err != nil {
		return err
	}
	class := uint8(16)
	switch v := sev.(type) {
	case int32:
		class = uint8(v)
	case int64:
		class = uint8(v)
	}
	m := tds.Message{Number: 50000, Class: class, State: 1, Text: fmt.Sprint(displayValue(msg))}
	if class <= 10 {
		_ = x.w.Message(m)
		return x.done(0, false)
	}
	return &sqltypes.Error{Number: m.Number, Class: m.Class, State: m.State, Text: m.Text}
}

func (x *executor) ifStmt(st *tsql.If) error {
	v, _, err := query.Eval(st.Cond, x.env())
	if err != nil {
		return err
	}
	if b, ok := v.(bool); ok && b {
		return x.run(st.Then)
	}
	if st.Else != nil {
		return x.run(st.Else)
	}
	return nil
}

func (x *executor) waitfor(st *tsql.Waitfor) error {
	v, _, err := query.Eval(st.Delay, x.env())
	if err != nil {
		return err
	}
	s, _ := v.(string)
	var h, m int
	var sec float64
	if _, err := fmt.Sscanf(s, "%d:%d:%f", &h, &m, &sec); err != nil {
		return sqlErr(148, "Incorrect time syntax in time string '%s' used with WAITFOR.", s)
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-x.ctx.Done():
		return errBatchAborted
	}
	return x.done(0, false)
}

func (x *executor) kill(st *tsql.Kill) error {
	if !x.s.in.isSysadmin(x.s.login) {
		return sqlErr(6102, "User does not have permission to use the KILL statement.")
	}
	v, _, err := query.Eval(st.SessionID, x.env())
	if err != nil {
		return err
	}
	id, ok := toInt64(v)
	if !ok {
		return sqlErr(6112, "Process ID %v is not a valid process ID. Choose a number between 1 and 2048", v)
	}
	if uint16(id) == x.s.id {
		return sqlErr(6104, "Cannot use KILL to kill your own process.")
	}
	x.s.in.mu.Lock()
	_, exists := x.s.in.sessions[uint16(id)]
	x.s.in.mu.Unlock()
	if !exists {
		return sqlErr(6106, "Process ID %d is not an active process ID.", id)
	}
	x.s.in.killSession(uint16(id))
	return x.done(0, false)
}

func (x *executor) checkpoint() error {
	db, err := x.s.in.onlineDB(x.s.currentDB())
	if err != nil {
		return err
	}
	sh := db.sharedState()
	sh.mu.Lock()
	sh.content.Append(x.s.in.sim.Now(), checkpointKind())
	sh.mu.Unlock()
	return x.done(0, false)
}

// onlineDB returns an ONLINE database by name or SQL Server's error for it.
func (in *Instance) onlineDB(name string) (*Database, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	db, ok := in.dbs[strings.ToUpper(name)]
	if !ok {
		return nil, sqlErr(911, "Database '%s' does not exist. Make sure that the name is entered correctly.", name)
	}
	if db.state == StateRestoring {
		return nil, sqlErr(927, "Database '%s' cannot be opened. It is in the middle of a restore.", db.name)
	}
	if db.state != StateOnline {
		return nil, sqlErr(942, "Database '%s' cannot be opened because it is offline.", db.name)
	}
	return db, nil
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case int16:
		return int64(n), true
	case uint8:
		return int64(n), true
	case sqltypes.Decimal:
		if n.Unscaled != nil && n.Scale == 0 && n.Unscaled.IsInt64() {
			return n.Unscaled.Int64(), true
		}
	case float64:
		return int64(n), true
	case string:
		var i int64
		if _, err := fmt.Sscan(strings.TrimSpace(n), &i); err == nil {
			return i, true
		}
	}
	return 0, false
}

func displayValue(v any) any {
	switch t := v.(type) {
	case nil:
		return ""
	case sqltypes.Decimal:
		return t.String()
	case time.Time:
		return t.Format("2006-01-02 15:04:05.000")
	}
	return v
}

// killSession ends a session's connection (KILL, SINGLE_USER WITH ROLLBACK IMMEDIATE).
func (in *Instance) killSession(id uint16) {
	in.srv.CloseSession(id)
	in.log.Info("session killed", zap.Uint16("spid", id))
}
