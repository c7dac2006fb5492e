package sqlsim_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/golang-sql/sqlexp"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const (
	blobHost  = "blob.sqlsim.test"
	container = "backups"
	sasToken  = "sv=2020-02-10&ss=b&srt=co&sp=rwdl&se=2099-01-01T00%3A00%3A00Z&sig=c2ltdWxhdGVk"
	saPass    = "Sim-Passw0rd"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// env is one simulator instance with an HTTPS blob service it trusts and a credential for it.
type env struct {
	t     *testing.T
	clock *sqlsim.ManualClock
	sim   *sqlsim.Simulator
	in    *sqlsim.Instance
	blobs *blobfake.Server
	srv   *httptest.Server
	base  string            // https://blob.sqlsim.test/backups: no port, as SQL Server requires
	hosts map[string]string // the simulated hosts file: blobHost → the blob service's loopback address
	db    *sql.DB
	ca    *testenv.CA
}

type envOption func(*sqlsim.InstanceConfig)

func withEdition(e sqlsim.Edition) envOption {
	return func(c *sqlsim.InstanceConfig) { c.Edition = e }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	ln, err := testenv.ListenLoopback443()
	require.NoError(t, err)
	// The IP too, for the test's own set-up requests to srv.URL.
	certFile, keyFile, err := ca.Issue(t.TempDir(), blobHost, testenv.LoopbackIP(ln.Addr().String()))
	require.NoError(t, err)
	blobs := blobfake.New()
	blobs.AddContainer(container, sasToken)
	srv, err := blobfake.NewTLSServer(ln, blobs, certFile, keyFile)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	hosts := map[string]string{blobHost: testenv.LoopbackIP(ln.Addr().String())}

	clock := sqlsim.NewManualClock(t0)
	sim := sqlsim.New(sqlsim.Config{Logger: zaptest.NewLogger(t), Clock: clock, TrustedRoots: ca.Pool(), Resolve: hosts})
	t.Cleanup(func() { _ = sim.Close() })
	cfg := sqlsim.InstanceConfig{Machine: "SQLVM1"}
	for _, o := range opts {
		o(&cfg)
	}
	in, err := sim.StartInstance(cfg)
	require.NoError(t, err)
	e := &env{t: t, clock: clock, sim: sim, in: in, blobs: blobs, srv: srv, ca: ca, hosts: hosts,
		base: fmt.Sprintf("https://%s/%s", blobHost, container)}
	e.db = e.connect("sa", saPass)
	e.mustExec(fmt.Sprintf("CREATE CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '%s'", e.base, sasToken))
	return e
}

func (e *env) connect(login, password string) *sql.DB {
	db, err := sql.Open("sqlserver", e.in.DSN(login, password, ""))
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = db.Close() })
	return db
}

// url names a backup blob in the test container.
func (e *env) url(name string) string { return e.base + "/" + name }

func (e *env) mustExec(q string, args ...any) {
	e.t.Helper()
	_, err := e.db.Exec(q, args...)
	require.NoError(e.t, err, q)
}

// createDB creates a database through the Go API.
func (e *env) createDB(spec sqlsim.DatabaseSpec) *sqlsim.Database {
	e.t.Helper()
	db, err := e.in.CreateDatabase(spec)
	require.NoError(e.t, err)
	return db
}

// write advances the clock by d and writes n pages.
func (e *env) write(db *sqlsim.Database, d time.Duration, n int) {
	e.t.Helper()
	e.clock.Advance(d)
	_, err := db.Write(n)
	require.NoError(e.t, err)
}

// messages runs a batch and returns its INFO messages (number and text) and its error.
func (e *env) messages(ctx context.Context, q string) ([]mssql.Error, error) {
	return runCollect(ctx, e.db, q)
}

func runCollect(ctx context.Context, db *sql.DB, q string) ([]mssql.Error, error) {
	retmsg := &sqlexp.ReturnMessage{}
	rows, err := db.QueryContext(ctx, q, retmsg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var infos []mssql.Error
	var failed []mssql.Error
	for more := true; more; {
		switch m := retmsg.Message(ctx).(type) {
		case sqlexp.MsgNotice:
			if me, ok := m.Message.(mssql.Error); ok {
				infos = append(infos, me)
			}
		case sqlexp.MsgError:
			var me mssql.Error
			if errors.As(m.Error, &me) {
				failed = append(failed, me)
			} else {
				return infos, m.Error
			}
		case sqlexp.MsgNextResultSet:
			more = rows.NextResultSet()
		case sqlexp.MsgNext:
			for rows.Next() {
			}
		}
	}
	if len(failed) > 0 {
		// Like go-mssqldb's own Exec: the last error, with every error of the batch in All.
		last := failed[len(failed)-1]
		last.All = failed
		return infos, last
	}
	return infos, rows.Err()
}

// errNumbers returns every SQL Server error number of a failed batch (go-mssqldb keeps the
// last one in Number and all of them in All).
func errNumbers(err error) []int32 {
	var me mssql.Error
	if !errors.As(err, &me) {
		return nil
	}
	var out []int32
	for _, e := range me.All {
		out = append(out, e.Number)
	}
	if len(out) == 0 {
		out = append(out, me.Number)
	}
	return out
}

// requireSQLError asserts err carries SQL Server error number n (anywhere in All).
func requireSQLError(t *testing.T, err error, n int32) mssql.Error {
	t.Helper()
	require.Error(t, err)
	nums := errNumbers(err)
	require.Contains(t, nums, n, "error %v has numbers %v", err, nums)
	var me mssql.Error
	require.True(t, errors.As(err, &me))
	for _, e := range me.All {
		if e.Number == n {
			return e
		}
	}
	return me
}

func infoNumbers(infos []mssql.Error) []int32 {
	out := make([]int32, len(infos))
	for i, m := range infos {
		out[i] = m.Number
	}
	return out
}

// queryRows returns every row of a query as strings keyed by column name.
func (e *env) queryRows(q string, args ...any) []map[string]any {
	e.t.Helper()
	return queryRowsDB(e.t, e.db, q, args...)
}

func queryRowsDB(t *testing.T, db *sql.DB, q string, args ...any) []map[string]any {
	t.Helper()
	rows, err := db.Query(q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	types, err := rows.ColumnTypes()
	require.NoError(t, err)
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		m := map[string]any{}
		for i, c := range cols {
			// numeric arrives as its decimal text, uniqueidentifier as SQL Server's bytes.
			if b, ok := vals[i].([]byte); ok {
				if types[i].DatabaseTypeName() == "UNIQUEIDENTIFIER" {
					var u mssql.UniqueIdentifier
					require.NoError(t, u.Scan(b))
					vals[i] = u.String()
				} else if types[i].DatabaseTypeName() != "VARBINARY" {
					vals[i] = string(b)
				}
			}
			m[c] = vals[i]
		}
		out = append(out, m)
	}
	require.NoError(t, rows.Err())
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// putBlob writes a blob directly (as another tool would), bypassing the simulator.
func (e *env) putBlob(name string, data []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPut, e.srv.URL+"/"+container+"/"+name+"?"+sasToken, bytes.NewReader(data))
	require.NoError(e.t, err)
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool()}}}
	resp, err := client.Do(req)
	require.NoError(e.t, err)
	_ = resp.Body.Close()
	require.Equal(e.t, http.StatusCreated, resp.StatusCode)
}

// bytesRead sums the ranged GETs the blob service answered since request index from.
func (e *env) bytesRead(from int) int64 {
	var n int64
	for _, r := range e.blobs.Requests()[from:] {
		if r.Kind != blobfake.KindGetBlob {
			continue
		}
		var a, b int64
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &a, &b); err == nil {
			n += b - a + 1
		}
	}
	return n
}

// connectTo opens a sysadmin connection to another instance.
func (e *env) connectTo(in *sqlsim.Instance) *sql.DB {
	db, err := sql.Open("sqlserver", in.DSN("sa", saPass, ""))
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = db.Close() })
	return db
}
