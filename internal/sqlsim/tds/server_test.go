package tds

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	"github.com/golang-sql/sqlexp"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

const (
	testPassword   = "Secr3t!pw"
	testServerName = `SQLSIM01\INST1`
)

// execFunc is what the fake session does for one statement text.
type execFunc func(ctx context.Context, s *fakeSession, params []Param, w ResultWriter)

// fakeHandler accepts sa/testPassword and dispatches Exec by exact statement text.
type fakeHandler struct {
	stmts map[string]execFunc

	mu       sync.Mutex
	logins   []LoginRequest
	sessions []*fakeSession
}

func (h *fakeHandler) Login(_ context.Context, req LoginRequest) (Session, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logins = append(h.logins, req)
	if req.User != "sa" || req.Password != testPassword {
		return nil, sqltypes.Errorf(18456, 14, "Login failed for user '%s'.", req.User)
	}
	s := &fakeSession{h: h, id: uint16(51 + len(h.sessions)), loginDB: req.Database}
	s.db.Store(req.Database)
	h.sessions = append(h.sessions, s)
	return s, nil
}

func (h *fakeHandler) loginRequests() []LoginRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LoginRequest(nil), h.logins...)
}

func (h *fakeHandler) session(id uint16) *fakeSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		if s.id == id {
			return s
		}
	}
	return nil
}

type fakeSession struct {
	h       *fakeHandler
	id      uint16
	loginDB string
	db      atomic.Value
	resets  atomic.Int32
	closes  atomic.Int32
}

func (s *fakeSession) ID() uint16       { return s.id }
func (s *fakeSession) Database() string { return s.db.Load().(string) }
func (s *fakeSession) Reset()           { s.resets.Add(1); s.db.Store(s.loginDB) }
func (s *fakeSession) Close()           { s.closes.Add(1) }

func (s *fakeSession) Exec(ctx context.Context, sql string, params []Param, w ResultWriter) {
	if f, ok := s.h.stmts[sql]; ok {
		f(ctx, s, params, w)
		return
	}
	switch {
	case sql == "select 1;": // go-mssqldb's Ping
		_ = w.Columns([]sqltypes.Column{{Type: sqltypes.Int}})
		_ = w.Row([]any{int32(1)})
		_ = w.Done(1, true)
	case sql == "select @@spid":
		_ = w.Columns([]sqltypes.Column{{Name: "spid", Type: sqltypes.SmallInt}})
		_ = w.Row([]any{int16(s.id)})
		_ = w.Done(1, true)
	case strings.HasPrefix(sql, "echo "):
		_ = w.Columns([]sqltypes.Column{{Name: "text", Type: sqltypes.NVarChar, Size: 100000}})
		_ = w.Row([]any{strings.TrimPrefix(sql, "echo ")})
		_ = w.Done(1, true)
	case strings.HasPrefix(sql, "EXEC "):
		_ = w.Message(Message{Number: 2812, State: 62, Class: 16, Line: 1,
			Text: fmt.Sprintf("Could not find stored procedure '%s'.", strings.TrimPrefix(sql, "EXEC "))})
	default:
		_ = w.Message(Message{Number: 102, State: 1, Class: 15, Line: 1, Text: fmt.Sprintf("Incorrect syntax near '%s'.", sql)})
	}
}

func startServer(t *testing.T, stmts map[string]execFunc) (*Server, *fakeHandler, string) {
	t.Helper()
	h := &fakeHandler{stmts: stmts}
	srv := NewServer(h, Options{Logger: zaptest.NewLogger(t), ServerName: testServerName,
		VersionMajor: 16, VersionMinor: 0, VersionBuild: 4135})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-served)
	})
	return srv, h, dsn(l.Addr().String(), testPassword, nil)
}

func dsn(addr, password string, extra url.Values) string {
	q := url.Values{"encrypt": {"disable"}, "database": {"master"}, "app name": {"tds-test"}}
	for k, v := range extra {
		q[k] = v
	}
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword("sa", password), Host: addr, RawQuery: q.Encode()}
	return u.String()
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlserver", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func spid(ctx context.Context, t *testing.T, db *sql.DB) int {
	t.Helper()
	var id int
	require.NoError(t, db.QueryRowContext(ctx, "select @@spid").Scan(&id))
	return id
}

func TestLogin(t *testing.T) {
	ctx := testContext(t)
	_, h, dsn := startServer(t, nil)
	db := openDB(t, dsn)

	require.NoError(t, db.PingContext(ctx))

	logins := h.loginRequests()
	require.Len(t, logins, 1)
	assert.Equal(t, "sa", logins[0].User)
	assert.Equal(t, testPassword, logins[0].Password)
	assert.Equal(t, "master", logins[0].Database)
	assert.Equal(t, "tds-test", logins[0].AppName)
	assert.Equal(t, "127.0.0.1", logins[0].ServerName)
	assert.Equal(t, uint32(4096), logins[0].PacketSize)
	assert.Equal(t, 51, spid(ctx, t, db))
}

func TestLoginWrongPassword(t *testing.T) {
	ctx := testContext(t)
	srv, _, good := startServer(t, nil)
	db := openDB(t, dsn(hostOf(t, good), "wrong", nil))

	err := db.PingContext(ctx)

	var me mssql.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int32(18456), me.Number)
	assert.Equal(t, uint8(14), me.Class)
	assert.Contains(t, me.Message, "Login failed for user 'sa'.")
	assert.Equal(t, testServerName, me.ServerName)
	assert.Eventually(t, func() bool { return srv.ConnectionCount() == 0 }, 5*time.Second, 10*time.Millisecond,
		"the server closes a connection whose login failed")
}

func hostOf(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	return u.Host
}

func TestSmallPacketsAndLargeMessages(t *testing.T) {
	ctx := testContext(t)
	_, h, good := startServer(t, nil)
	db := openDB(t, dsn(hostOf(t, good), testPassword, url.Values{"packet size": {"512"}}))
	text := strings.Repeat("sqlvault ☃ ", 700) // ~15 KB of UCS-2 each way: many 512-byte packets

	var got string
	require.NoError(t, db.QueryRowContext(ctx, "echo "+text).Scan(&got))

	assert.Equal(t, text, got)
	assert.Equal(t, uint32(512), h.loginRequests()[0].PacketSize)
}

func mustDecimal(t *testing.T, s string) sqltypes.Decimal {
	d, err := sqltypes.ParseDecimal(s)
	require.NoError(t, err)
	return d
}

func TestResultSetTypesRoundTrip(t *testing.T) {
	ctx := testContext(t)
	lsn, ok := new(big.Int).SetString("12345678901234567890123", 10)
	require.True(t, ok)
	dt := time.Date(2024, 3, 1, 12, 34, 56, 123_000_000, time.UTC)
	dt2 := time.Date(2024, 3, 1, 23, 59, 59, 123_456_700, time.UTC)
	guid := sqltypes.UUID{0x6F, 0x96, 0x19, 0xFF, 0x8B, 0x86, 0xD0, 0x11, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	long := strings.Repeat("x", 4500) // wider than nvarchar(4000): sent as nvarchar(max)
	cols := []sqltypes.Column{
		{Name: "s", Type: sqltypes.NVarChar, Size: 50},
		{Name: "", Type: sqltypes.Int},
		{Name: "big", Type: sqltypes.BigInt},
		{Name: "tiny", Type: sqltypes.TinyInt},
		{Name: "small", Type: sqltypes.SmallInt},
		{Name: "flag", Type: sqltypes.Bit},
		{Name: "lsn", Type: sqltypes.Numeric, Precision: 25},
		{Name: "amount", Type: sqltypes.Numeric, Precision: 10, Scale: 2},
		{Name: "neg", Type: sqltypes.Numeric, Precision: 38, Scale: 10},
		{Name: "f", Type: sqltypes.Float},
		{Name: "dt", Type: sqltypes.DateTime},
		{Name: "dt2", Type: sqltypes.DateTime2},
		{Name: "id", Type: sqltypes.UniqueIdentifier},
		{Name: "bin", Type: sqltypes.VarBinary, Size: 16},
		{Name: "long", Type: sqltypes.NVarChar, Size: 5000},
	}
	values := []any{"héllo wörld ☃", int32(-7), int64(1) << 40, uint8(200), int16(-300), true,
		sqltypes.NewDecimalInt(lsn), sqltypes.Decimal{Unscaled: big.NewInt(-125), Scale: 1},
		mustDecimal(t, "-1234567890123456789012.3456789012"), 3.25, dt, dt2, guid, []byte{0, 1, 2, 0xFF}, long}
	_, _, dsn := startServer(t, map[string]execFunc{
		"run types": func(_ context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
			assert.NoError(t, w.Columns(cols))
			assert.NoError(t, w.Row(values))
			assert.NoError(t, w.Row(make([]any, len(cols)))) // all NULL
			assert.NoError(t, w.Done(2, true))
		},
	})
	db := openDB(t, dsn)

	rows, err := db.QueryContext(ctx, "run types")
	require.NoError(t, err)
	defer rows.Close()
	names, err := rows.Columns()
	require.NoError(t, err)
	assert.Equal(t, []string{"s", "", "big", "tiny", "small", "flag", "lsn", "amount", "neg", "f", "dt", "dt2", "id", "bin", "long"}, names)

	require.True(t, rows.Next())
	var (
		s, lsnText, amount, neg, longText string
		i32                               int32
		i64                               int64
		tiny                              uint8
		small                             int16
		flag                              bool
		f                                 float64
		gotDT, gotDT2                     time.Time
		id                                mssql.UniqueIdentifier
		bin                               []byte
	)
	require.NoError(t, rows.Scan(&s, &i32, &i64, &tiny, &small, &flag, &lsnText, &amount, &neg, &f, &gotDT, &gotDT2, &id, &bin, &longText))
	assert.Equal(t, "héllo wörld ☃", s)
	assert.Equal(t, int32(-7), i32)
	assert.Equal(t, int64(1)<<40, i64)
	assert.Equal(t, uint8(200), tiny)
	assert.Equal(t, int16(-300), small)
	assert.True(t, flag)
	assert.Equal(t, "12345678901234567890123", lsnText)
	assert.Equal(t, "-12.50", amount)
	assert.Equal(t, "-1234567890123456789012.3456789012", neg)
	assert.Equal(t, 3.25, f)
	assert.True(t, dt.Equal(gotDT), "datetime: got %v want %v", gotDT, dt)
	assert.True(t, dt2.Equal(gotDT2), "datetime2: got %v want %v", gotDT2, dt2)
	assert.Equal(t, "6F9619FF-8B86-D011-B42D-00C04FC964FF", id.String())
	assert.Equal(t, guid.String(), id.String())
	assert.Equal(t, []byte{0, 1, 2, 0xFF}, bin)
	assert.Equal(t, long, longText)

	require.True(t, rows.Next())
	nulls := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range nulls {
		ptrs[i] = &nulls[i]
	}
	require.NoError(t, rows.Scan(ptrs...))
	for i, v := range nulls {
		assert.Nil(t, v, "column %d (%s) should be NULL", i, cols[i].Type)
	}
	assert.False(t, rows.Next())
	require.NoError(t, rows.Err())
}

func TestRowRejectsValuesThatDoNotFit(t *testing.T) {
	ctx := testContext(t)
	rowErrs := make(chan []error, 1)
	_, _, dsn := startServer(t, map[string]execFunc{
		"run bad": func(_ context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
			assert.NoError(t, w.Columns([]sqltypes.Column{{Name: "n", Type: sqltypes.Int}, {Name: "s", Type: sqltypes.NVarChar, Size: 3}}))
			rowErrs <- []error{
				w.Row([]any{"not an int", "abc"}),
				w.Row([]any{int64(1) << 40, "abc"}),
				w.Row([]any{int32(1), "abcd"}),
				w.Row([]any{int32(1)}),
				w.Columns(nil),
			}
			assert.NoError(t, w.Row([]any{7, "abc"})) // any Go integer that fits is fine
		},
	})
	db := openDB(t, dsn)

	var n int
	var s string
	require.NoError(t, db.QueryRowContext(ctx, "run bad").Scan(&n, &s))

	assert.Equal(t, 7, n)
	assert.Equal(t, "abc", s)
	errs := receive(t, rowErrs, "the handler's row errors")
	require.Len(t, errs, 5)
	for i, err := range errs {
		assert.Error(t, err, "bad call %d", i)
	}
}

// decimalValuer stands for decimal types that implement driver.Valuer (shopspring's, for one).
type decimalValuer string

func (d decimalValuer) Value() (driver.Value, error) { return string(d), nil }

func TestSpExecuteSQLParams(t *testing.T) {
	ctx := testContext(t)
	type call struct {
		sql    string
		params []Param
	}
	calls := make(chan call, 1)
	_, _, dsn := startServer(t, map[string]execFunc{
		"run params": func(_ context.Context, _ *fakeSession, params []Param, w ResultWriter) {
			calls <- call{"run params", params}
			_ = w.Done(0, false)
		},
	})
	db := openDB(t, dsn)
	when := time.Date(2024, 5, 6, 7, 8, 9, 123_456_700, time.FixedZone("CEST", 2*3600))
	guid := mssql.UniqueIdentifier{0x6F, 0x96, 0x19, 0xFF, 0x8B, 0x86, 0xD0, 0x11, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	long := strings.Repeat("ü", 5000)
	outInt := int64(5)
	outStr := "in"

	_, err := db.ExecContext(ctx, "run params",
		int64(-1)<<40, int32(-42), int16(300), uint8(7), "héllo", true, 2.5, float32(0.5), when,
		mssql.DateTime1(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), []byte{1, 2, 3}, nil,
		decimalValuer("12.345"), guid, mssql.NVarCharMax(long), mssql.VarChar("plain"),
		sql.Named("who", "named"), sql.Named("out", sql.Out{Dest: &outInt}), sql.Named("outs", sql.Out{Dest: &outStr}))
	require.NoError(t, err)

	c := <-calls
	assert.Equal(t, "run params", c.sql)
	want := []Param{
		{Name: "p1", Type: sqltypes.BigInt, Value: int64(-1) << 40},
		{Name: "p2", Type: sqltypes.Int, Value: int32(-42)},
		{Name: "p3", Type: sqltypes.SmallInt, Value: int16(300)},
		{Name: "p4", Type: sqltypes.TinyInt, Value: uint8(7)},
		{Name: "p5", Type: sqltypes.NVarChar, Value: "héllo"},
		{Name: "p6", Type: sqltypes.Bit, Value: true},
		{Name: "p7", Type: sqltypes.Float, Value: 2.5},
		{Name: "p8", Type: sqltypes.Float, Value: 0.5},
		{Name: "p9", Type: sqltypes.DateTime2, Value: when.UTC()},
		{Name: "p10", Type: sqltypes.DateTime, Value: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{Name: "p11", Type: sqltypes.VarBinary, Value: []byte{1, 2, 3}},
		{Name: "p12", Type: sqltypes.NVarChar, Value: nil},
		{Name: "p13", Type: sqltypes.NVarChar, Value: "12.345"},
		{Name: "p14", Type: sqltypes.UniqueIdentifier, Value: sqltypes.UUID(guid)},
		{Name: "p15", Type: sqltypes.NVarChar, Value: long},
		{Name: "p16", Type: sqltypes.NVarChar, Value: "plain"},
		{Name: "who", Type: sqltypes.NVarChar, Value: "named"},
		{Name: "out", Type: sqltypes.BigInt, Value: int64(5), Output: true},
		{Name: "outs", Type: sqltypes.NVarChar, Value: "in", Output: true},
	}
	require.Len(t, c.params, len(want))
	for i := range want {
		assert.Equal(t, want[i], c.params[i], "parameter %d", i+1)
	}
	assert.Equal(t, time.UTC, c.params[8].Value.(time.Time).Location(), "datetimeoffset arrives in UTC")
	assert.Equal(t, guid.String(), c.params[13].Value.(sqltypes.UUID).String())
}

func TestUnknownProcedureIsPassedAsExec(t *testing.T) {
	ctx := testContext(t)
	_, _, dsn := startServer(t, nil)
	db := openDB(t, dsn)

	_, err := db.ExecContext(ctx, "sp_nothere")

	var me mssql.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int32(2812), me.Number)
	assert.Equal(t, "Could not find stored procedure 'sp_nothere'.", me.Message)
}

func multiResult(_ context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
	cols := []sqltypes.Column{{Name: "n", Type: sqltypes.Int}}
	_ = w.Columns(cols)
	_ = w.Row([]any{int32(1)})
	_ = w.Row([]any{int32(2)})
	_ = w.Done(2, true)
	_ = w.Done(3, true) // an UPDATE of 3 rows
	_ = w.Columns([]sqltypes.Column{{Name: "name", Type: sqltypes.NVarChar, Size: 10}})
	_ = w.Row([]any{"third"})
	_ = w.Done(1, true)
}

func TestMultipleResultSetsAndRowCounts(t *testing.T) {
	ctx := testContext(t)
	_, _, dsn := startServer(t, map[string]execFunc{
		"run multi": multiResult,
		"run open-ended": func(_ context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
			_ = w.Columns([]sqltypes.Column{{Name: "n", Type: sqltypes.Int}})
			_ = w.Row([]any{int32(1)})
			_ = w.Columns([]sqltypes.Column{{Name: "n", Type: sqltypes.Int}}) // ends the first set
			_ = w.Row([]any{int32(2)})
			_ = w.Row([]any{int32(3)})
			// no Done: the server ends the open result set with its row count
		},
	})
	db := openDB(t, dsn)

	rows, err := db.QueryContext(ctx, "run multi")
	require.NoError(t, err)
	var first []int
	for rows.Next() {
		var n int
		require.NoError(t, rows.Scan(&n))
		first = append(first, n)
	}
	require.True(t, rows.NextResultSet())
	require.True(t, rows.Next())
	var name string
	require.NoError(t, rows.Scan(&name))
	assert.False(t, rows.Next())
	assert.False(t, rows.NextResultSet())
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	assert.Equal(t, []int{1, 2}, first)
	assert.Equal(t, "third", name)

	for _, args := range [][]any{nil, {1}} { // SQL batch, then RPC (DONEINPROC)
		res, err := db.ExecContext(ctx, "run multi", args...)
		require.NoError(t, err)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		assert.Equal(t, int64(6), n, "args %v", args)

		res, err = db.ExecContext(ctx, "run open-ended", args...)
		require.NoError(t, err)
		n, err = res.RowsAffected()
		require.NoError(t, err)
		assert.Equal(t, int64(3), n, "args %v", args)
	}
}

func TestInfoMessagesArriveWhileStatementRuns(t *testing.T) {
	ctx := testContext(t)
	release := make(chan struct{})
	var releasedByClient atomic.Bool
	_, _, dsn := startServer(t, map[string]execFunc{
		"run backup": func(ctx context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
			_ = w.Message(Message{Number: 3211, State: 1, Class: 10, Text: "10 percent processed."})
			select {
			case <-release: // only the client's receipt of the first message gets us here
				releasedByClient.Store(true)
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Second):
			}
			_ = w.Message(Message{Number: 3211, State: 1, Class: 10, Text: "100 percent processed."})
			_ = w.Message(Message{Number: 3014, State: 1, Class: 0, Text: "BACKUP DATABASE successfully processed 10 pages."})
			_ = w.Done(0, false)
		},
	})
	db := openDB(t, dsn)

	retmsg := &sqlexp.ReturnMessage{}
	rows, err := db.QueryContext(ctx, "run backup", retmsg)
	require.NoError(t, err)
	defer rows.Close()
	var notices []mssql.Error
	for active := true; active; {
		switch m := retmsg.Message(ctx).(type) {
		case sqlexp.MsgNotice:
			notice, ok := m.Message.(mssql.Error)
			require.True(t, ok, "notice is %T", m.Message)
			notices = append(notices, notice)
			if len(notices) == 1 {
				close(release)
			}
		case sqlexp.MsgNextResultSet:
			active = rows.NextResultSet()
		case sqlexp.MsgError:
			require.NoError(t, m.Error)
		case nil:
			require.Fail(t, "no message before the deadline")
		}
	}

	require.Len(t, notices, 3)
	assert.Equal(t, []int32{3211, 3211, 3014}, []int32{notices[0].Number, notices[1].Number, notices[2].Number})
	assert.Equal(t, "10 percent processed.", notices[0].Message)
	assert.Equal(t, testServerName, notices[0].ServerName)
	assert.True(t, releasedByClient.Load(), "the first message must reach the client before the statement ends")
}

func TestErrors(t *testing.T) {
	ctx := testContext(t)
	failBackup := func(_ context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
		_ = w.Message(Message{Number: 3201, State: 2, Class: 16, Proc: "xp_backup", Line: 7,
			Text: "Cannot open backup device 'https://agent/c/b.bak'. Operating system error 50(The request is not supported.)."})
		_ = w.Message(FromError(sqltypes.Errorf(3013, 16, "BACKUP DATABASE is terminating abnormally.")))
		_ = w.Done(0, false)
	}
	_, _, dsn := startServer(t, map[string]execFunc{
		"run fail": failBackup,
		"run fail-then-select": func(ctx context.Context, s *fakeSession, p []Param, w ResultWriter) {
			failBackup(ctx, s, p, w)
			_ = w.Columns([]sqltypes.Column{{Name: "n", Type: sqltypes.Int}})
			_ = w.Row([]any{int32(1)})
			_ = w.Done(1, true)
		},
		"run error-without-done": func(_ context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
			_ = w.Message(FromError(fmt.Errorf("engine failure")))
		},
	})
	db := openDB(t, dsn)

	for _, args := range [][]any{nil, {1}} {
		for _, stmt := range []string{"run fail", "run fail-then-select"} {
			_, err := db.ExecContext(ctx, stmt, args...)
			var me mssql.Error
			require.ErrorAs(t, err, &me, "%s %v", stmt, args)
			assert.Equal(t, int32(3013), me.Number)
			assert.Equal(t, uint8(16), me.Class)
			assert.Equal(t, uint8(1), me.State)
			assert.Equal(t, testServerName, me.ServerName)
			require.Len(t, me.All, 2)
			assert.Equal(t, int32(3201), me.All[0].Number)
			assert.Equal(t, uint8(2), me.All[0].State)
			assert.Equal(t, "xp_backup", me.All[0].ProcName)
			assert.Equal(t, int32(7), me.All[0].LineNo)
			assert.Contains(t, me.All[0].Message, "Cannot open backup device")
		}
	}

	_, err := db.QueryContext(ctx, "run fail")
	var me mssql.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int32(3013), me.Number)

	_, err = db.ExecContext(ctx, "run error-without-done")
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int32(50000), me.Number)
	assert.Equal(t, "engine failure", me.Message)

	// The connection is still good after errors.
	assert.Equal(t, 51, spid(ctx, t, db))
}

// waitStmt is a statement that runs until its context is cancelled.
type waitStmt struct {
	started   chan uint16
	cancelled chan struct{}
}

func newWaitStmt() *waitStmt {
	return &waitStmt{started: make(chan uint16, 10), cancelled: make(chan struct{}, 10)}
}

func (ws *waitStmt) exec(ctx context.Context, s *fakeSession, _ []Param, w ResultWriter) {
	ws.started <- s.id
	select {
	case <-ctx.Done():
		ws.cancelled <- struct{}{}
	case <-time.After(15 * time.Second):
	}
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		require.FailNow(t, "timed out waiting for "+what)
	}
	var zero T
	return zero
}

func TestAttentionCancelsExec(t *testing.T) {
	base := testContext(t)
	ws := newWaitStmt()
	srv, _, dsn := startServer(t, map[string]execFunc{"run wait": ws.exec})
	db := openDB(t, dsn)
	db.SetMaxOpenConns(1)

	for _, args := range [][]any{nil, {1}} {
		ctx, cancel := context.WithCancel(base)
		errc := make(chan error, 1)
		go func() {
			_, err := db.ExecContext(ctx, "run wait", args...)
			errc <- err
		}()
		id := receive(t, ws.started, "Exec to start")
		cancel()

		assert.ErrorIs(t, receive(t, errc, "the client call to return"), context.Canceled)
		receive(t, ws.cancelled, "Exec's context to be cancelled")
		assert.Equal(t, int(id), spid(base, t, db), "the same connection is used after the attention")
		assert.Equal(t, 1, srv.ConnectionCount())
	}
}

func TestAttentionAfterResponseIsAcknowledged(t *testing.T) {
	ctx := testContext(t)
	_, _, dsn := startServer(t, map[string]execFunc{
		"run many": func(_ context.Context, _ *fakeSession, _ []Param, w ResultWriter) {
			_ = w.Columns([]sqltypes.Column{{Name: "n", Type: sqltypes.Int}})
			for i := range 2000 {
				_ = w.Row([]any{int32(i)})
			}
			_ = w.Done(2000, true)
		},
	})
	db := openDB(t, dsn)
	db.SetMaxOpenConns(1)

	// Closing Rows early makes go-mssqldb send ATTENTION, sometimes after the whole
	// response has arrived; either way the next requests on the connection must work.
	for range 20 {
		rows, err := db.QueryContext(ctx, "run many")
		require.NoError(t, err)
		require.True(t, rows.Next())
		require.NoError(t, rows.Close())
		assert.Equal(t, 51, spid(ctx, t, db))
	}
}

func TestConcurrentConnections(t *testing.T) {
	ctx := testContext(t)
	const n = 10
	var arrived atomic.Int32
	srv, _, dsn := startServer(t, map[string]execFunc{
		"run barrier": func(ctx context.Context, s *fakeSession, _ []Param, w ResultWriter) {
			arrived.Add(1)
			for arrived.Load() < n && ctx.Err() == nil { // all n sessions are inside Exec at once
				time.Sleep(time.Millisecond)
			}
			_ = w.Columns([]sqltypes.Column{{Name: "spid", Type: sqltypes.SmallInt}})
			_ = w.Row([]any{int16(s.id)})
		},
	})
	db := openDB(t, dsn)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)

	ids := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var id int
			assert.NoError(t, db.QueryRowContext(ctx, "run barrier").Scan(&id))
			ids <- id
		})
	}
	wg.Wait()
	close(ids)

	seen := map[int]bool{}
	for id := range ids {
		seen[id] = true
	}
	assert.Len(t, seen, n, "every query ran on its own session")
	assert.Equal(t, n, srv.ConnectionCount())
}

func TestDropConnectionsFailsInFlightCalls(t *testing.T) {
	ctx := testContext(t)
	ws := newWaitStmt()
	srv, h, dsn := startServer(t, map[string]execFunc{"run wait": ws.exec})
	db := openDB(t, dsn)

	errc := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "run wait")
		errc <- err
	}()
	id := receive(t, ws.started, "Exec to start")

	assert.Equal(t, 1, srv.DropConnections())

	assert.Error(t, receive(t, errc, "the client call to fail"))
	receive(t, ws.cancelled, "Exec's context to be cancelled")
	assert.Eventually(t, func() bool { return srv.ConnectionCount() == 0 }, 5*time.Second, 10*time.Millisecond)
	assert.Eventually(t, func() bool { return h.session(id).closes.Load() == 1 }, 5*time.Second, 10*time.Millisecond,
		"Session.Close is called once")
	// The listener stays open: the pool reconnects.
	require.NoError(t, db.PingContext(ctx))
}

func TestResetConnectionOnPooledReuse(t *testing.T) {
	ctx := testContext(t)
	_, h, dsn := startServer(t, map[string]execFunc{
		"use tempdb": func(_ context.Context, s *fakeSession, _ []Param, w ResultWriter) {
			old := s.Database()
			s.db.Store("tempdb")
			_ = w.DatabaseChanged(old, "tempdb")
			_ = w.Message(Message{Number: 5701, State: 2, Class: 0, Text: "Changed database context to 'tempdb'."})
		},
	})
	db := openDB(t, dsn)
	db.SetMaxOpenConns(1)

	_, err := db.ExecContext(ctx, "use tempdb")
	require.NoError(t, err)
	s := h.session(51)
	require.NotNil(t, s)
	// go-mssqldb marks a new connection for reset too, so the reset comes before the USE.
	assert.Equal(t, int32(1), s.resets.Load())
	assert.Equal(t, "tempdb", s.Database())

	id := spid(ctx, t, db)

	assert.Equal(t, int(s.id), id, "the pooled connection is reused")
	assert.Equal(t, int32(2), s.resets.Load(), "the request on the reused connection resets it")
	assert.Equal(t, "master", s.Database())
}

func TestTransactions(t *testing.T) {
	ctx := testContext(t)
	_, _, dsn := startServer(t, map[string]execFunc{"run multi": multiResult})
	db := openDB(t, dsn)

	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	require.NoError(t, err)
	res, err := tx.ExecContext(ctx, "run multi")
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	assert.Equal(t, int64(6), n)
	require.NoError(t, tx.Commit())

	tx, err = db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "run multi", 1)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())

	require.NoError(t, db.PingContext(ctx))
}

func TestCloseEndsSessionsAndServe(t *testing.T) {
	ctx := testContext(t)
	ws := newWaitStmt()
	h := &fakeHandler{stmts: map[string]execFunc{"run wait": ws.exec}}
	srv := NewServer(h, Options{Logger: zaptest.NewLogger(t)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	db := openDB(t, dsn(l.Addr().String(), testPassword, nil))
	errc := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "run wait")
		errc <- err
	}()
	id := receive(t, ws.started, "Exec to start")

	require.NoError(t, srv.Close())

	assert.NoError(t, receive(t, served, "Serve to return"))
	assert.Error(t, receive(t, errc, "the client call to fail"))
	assert.Equal(t, 0, srv.ConnectionCount())
	assert.Equal(t, int32(1), h.session(id).closes.Load())
	_, err = net.DialTimeout("tcp", l.Addr().String(), time.Second)
	assert.Error(t, err, "the listener is closed")
}

func TestMoreParamTypes(t *testing.T) {
	ctx := testContext(t)
	calls := make(chan []Param, 1)
	_, _, dsn := startServer(t, map[string]execFunc{
		"run params": func(_ context.Context, _ *fakeSession, params []Param, w ResultWriter) {
			calls <- params
		},
	})
	db := openDB(t, dsn)
	offset := time.Date(2024, 5, 6, 23, 30, 0, 0, time.FixedZone("", -5*3600))

	_, err := db.ExecContext(ctx, "run params",
		civil.Date{Year: 2024, Month: 2, Day: 29},
		civil.DateTime{Date: civil.Date{Year: 1999, Month: 12, Day: 31}, Time: civil.Time{Hour: 23, Minute: 59, Second: 58, Nanosecond: 1234500}},
		civil.Time{Hour: 1, Minute: 2, Second: 3},
		mssql.DateTimeOffset(offset),
		sql.NullInt64{}, sql.NullString{}, sql.NullTime{})
	require.NoError(t, err)

	want := []Param{
		{Name: "p1", Type: sqltypes.DateTime2, Value: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{Name: "p2", Type: sqltypes.DateTime2, Value: time.Date(1999, 12, 31, 23, 59, 58, 1234500, time.UTC)},
		{Name: "p3", Type: sqltypes.DateTime2, Value: time.Date(1, 1, 1, 1, 2, 3, 0, time.UTC)},
		{Name: "p4", Type: sqltypes.DateTime2, Value: offset.UTC()},
		{Name: "p5", Type: sqltypes.BigInt},
		{Name: "p6", Type: sqltypes.NVarChar},
		{Name: "p7", Type: sqltypes.DateTime2},
	}
	assert.Equal(t, want, receive(t, calls, "the parameters"))
}

func TestUnsupportedParamTypeIsAnErrorNotADisconnect(t *testing.T) {
	ctx := testContext(t)
	_, _, dsn := startServer(t, nil)
	db := openDB(t, dsn)
	db.SetMaxOpenConns(1)
	type row struct{ N int32 }

	_, err := db.ExecContext(ctx, "run tvp", mssql.TVP{TypeName: "dbo.rows", Value: []row{{1}}})

	var me mssql.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int32(8009), me.Number)
	assert.Contains(t, me.Message, "Data type 0xF3 is unknown")
	assert.Equal(t, 51, spid(ctx, t, db), "the connection survives")
}

func TestLoginWithFeatureExtension(t *testing.T) {
	ctx := testContext(t)
	_, _, good := startServer(t, nil)
	// Always Encrypted makes go-mssqldb send a FeatureExt block; we acknowledge nothing.
	db := openDB(t, dsn(hostOf(t, good), testPassword, url.Values{"columnencryption": {"true"}}))

	assert.Equal(t, 51, spid(ctx, t, db))
}
