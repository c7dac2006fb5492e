//go:build linux && cgo

package vdisim_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/vdistandin"
)

type world struct {
	t   *testing.T
	p   vdi.Platform
	in  *sqlsim.Instance
	db  *sql.DB
	src *sqlsim.Database
}

func newWorld(t *testing.T) *world {
	t.Helper()
	lib, err := vdistandin.Build()
	require.NoError(t, err, "the stand-in libsqlvdi.so must build: the machine needs g++")
	p, err := linuxvdi.Open(lib)
	require.NoError(t, err)
	t.Setenv(vdistandin.DirEnv, t.TempDir())
	sim := sqlsim.New(sqlsim.Config{Logger: zaptest.NewLogger(t)})
	t.Cleanup(func() { _ = sim.Close() })
	in, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "SQLVM1"})
	require.NoError(t, err)
	db, err := sql.Open("sqlserver", in.DSN("sa", "Sim-Passw0rd", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	src, err := in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Src", DataPages: 640})
	require.NoError(t, err)
	_, err = src.Write(50)
	require.NoError(t, err)
	return &world{t: t, p: p, in: in, db: db, src: src}
}

var seq atomic.Int64

// session is one set of n devices, created as the product does before it sends the
// statement.
type session struct {
	set   vdi.DeviceSet
	names []string
}

func (w *world) newSession(n int, features uint32) *session {
	w.t.Helper()
	set, err := w.p.NewSet()
	require.NoError(w.t, err)
	name := fmt.Sprintf("sqlvault-Src-%d-%d", time.Now().UnixNano()%1e9, seq.Add(1))
	require.NoError(w.t, set.Create("", name, vdi.Config{DeviceCount: uint32(n), Features: features}))
	s := &session{set: set, names: []string{name}}
	for i := 2; i <= n; i++ {
		s.names = append(s.names, fmt.Sprintf("%s-%d", name, i))
	}
	return s
}

// devices renders the statement's device list, one parameter per device as the product
// renders it (sqlserver: `VIRTUAL_DEVICE = @p2`).
func (s *session) devices(first int) (string, []any) {
	var sb bytes.Buffer
	var args []any
	for i, n := range s.names {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "VIRTUAL_DEVICE = @p%d", first+i)
		args = append(args, n)
	}
	return sb.String(), args
}

type memSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
	err error
}

func (m *memSink) Write(_ context.Context, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.buf.Write(p)
	return nil
}

type memSource struct{ r *bytes.Reader }

func (m memSource) Read(_ context.Context, p []byte) (int, error) { return m.r.Read(p) }

// run sends the statement on its own goroutine, runs the client side (GetConfiguration,
// OpenDevice, a Pump per device) and returns the statement's error and the pumps'.
func (w *world) run(s *session, stmt string, args []any, pumps func(i int, d vdi.Device) *vdi.Pump) (stmtErr error, pumpErrs []error) {
	w.t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := w.db.Exec(stmt, args...)
		done <- err
	}()
	_, err := s.set.GetConfiguration(20 * time.Second)
	if err != nil {
		_ = s.set.Close()
		return <-done, []error{err}
	}
	pumpErrs = make([]error, len(s.names))
	var wg sync.WaitGroup
	for i, n := range s.names {
		d, err := s.set.OpenDevice(n)
		require.NoError(w.t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			pumpErrs[i] = pumps(i, d).Run(context.Background())
			if pumpErrs[i] != nil {
				_ = s.set.SignalAbort()
			}
		}()
	}
	wg.Wait()
	stmtErr = <-done
	closeErr := s.set.Close()
	if errors.Join(pumpErrs...) == nil && closeErr != nil {
		pumpErrs = append(pumpErrs, closeErr)
	}
	return stmtErr, pumpErrs
}

func (w *world) backup(s *session, with string) ([]*memSink, error, []error) {
	list, args := s.devices(2)
	sinks := make([]*memSink, len(s.names))
	for i := range sinks {
		sinks[i] = &memSink{}
	}
	stmtErr, pumpErrs := w.run(s, "BACKUP DATABASE @p1 TO "+list+" WITH FORMAT"+with, append([]any{"Src"}, args...),
		func(i int, d vdi.Device) *vdi.Pump {
			return &vdi.Pump{Device: d, Sink: sinks[i], Wait: 100 * time.Millisecond}
		})
	return sinks, stmtErr, pumpErrs
}

func (w *world) restore(s *session, stmtHead, with string, stripes [][]byte) (error, []error) {
	list, args := s.devices(1)
	return w.run(s, stmtHead+" FROM "+list+with, args, func(i int, d vdi.Device) *vdi.Pump {
		return &vdi.Pump{Device: d, Source: memSource{bytes.NewReader(stripes[i])}, Wait: 100 * time.Millisecond}
	})
}

func bytesOf(sinks []*memSink) [][]byte {
	out := make([][]byte, len(sinks))
	for i, s := range sinks {
		out[i] = s.buf.Bytes()
	}
	return out
}

// sqlNumber is the first error number of a failed batch (the driver's Number is the last:
// 3013, "… is terminating abnormally").
func sqlNumber(err error) int32 {
	var me mssql.Error
	if !errors.As(err, &me) {
		return 0
	}
	if len(me.All) > 0 {
		return me.All[0].Number
	}
	return me.Number
}

func TestBackupToVirtualDeviceAndRestoreFromIt(t *testing.T) {
	w := newWorld(t)
	for _, stripes := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d devices", stripes), func(t *testing.T) {
			w.t = t
			s := w.newSession(stripes, vdi.FeatureRequestComplete)
			sinks, stmtErr, pumpErrs := w.backup(s, ", MAXTRANSFERSIZE = 65536, BLOCKSIZE = 512")
			require.NoError(t, stmtErr)
			require.NoError(t, errors.Join(pumpErrs...))
			for i, sk := range sinks {
				require.NotZero(t, sk.buf.Len(), "device %d got bytes", i)
			}

			var typ int
			var phys string
			require.NoError(t, w.db.QueryRow(`SELECT TOP 1 mf.device_type, mf.physical_device_name FROM msdb.dbo.backupmediafamily mf
				ORDER BY mf.media_set_id DESC, mf.family_sequence_number ASC`).Scan(&typ, &phys))
			require.Equal(t, 7, typ, "device_type 7: virtual device")
			require.Equal(t, s.names[0], phys, "physical_device_name: the set's name")

			data := bytesOf(sinks)
			h := w.newSession(stripes, 0)
			stmtErr, pumpErrs = w.restore(h, "RESTORE VERIFYONLY", "", data)
			require.NoError(t, stmtErr)
			require.NoError(t, errors.Join(pumpErrs...))

			copyName := fmt.Sprintf("Copy%d", stripes)
			r := w.newSession(stripes, 0)
			stmtErr, pumpErrs = w.restore(r, "RESTORE DATABASE ["+copyName+"]",
				fmt.Sprintf(" WITH MOVE 'Src' TO '/d/%s.mdf', MOVE 'Src_log' TO '/d/%s.ldf', MAXTRANSFERSIZE = 131072", copyName, copyName), data)
			require.NoError(t, stmtErr)
			require.NoError(t, errors.Join(pumpErrs...))
			restored, ok := w.in.Database(copyName)
			require.True(t, ok)
			require.Equal(t, w.src.Digest().String(), restored.Digest().String(), "the restored database is the backed-up one")
		})
	}
}

func TestRestoreHeaderOnlyFromVirtualDevice(t *testing.T) {
	w := newWorld(t)
	sinks, stmtErr, pumpErrs := w.backup(w.newSession(1, 0), "")
	require.NoError(t, stmtErr)
	require.NoError(t, errors.Join(pumpErrs...))
	s := w.newSession(1, 0)
	list, args := s.devices(1)
	type header struct {
		row map[string]any
		err error
	}
	done := make(chan header, 1)
	go func() {
		rows, err := w.db.Query("RESTORE HEADERONLY FROM "+list, args...)
		if err != nil {
			done <- header{err: err}
			return
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if !rows.Next() {
			done <- header{err: fmt.Errorf("no row: %v", rows.Err())}
			return
		}
		err = rows.Scan(ptrs...)
		row := map[string]any{}
		for i, c := range cols {
			row[c] = vals[i]
		}
		done <- header{row: row, err: err}
	}()
	_, err := s.set.GetConfiguration(20 * time.Second)
	require.NoError(t, err)
	d, err := s.set.OpenDevice(s.names[0])
	require.NoError(t, err)
	require.NoError(t, (&vdi.Pump{Device: d, Source: memSource{bytes.NewReader(sinks[0].buf.Bytes())}}).Run(context.Background()))
	h := <-done
	require.NoError(t, h.err)
	require.Equal(t, "Src", h.row["DatabaseName"])
	require.EqualValues(t, 7, h.row["DeviceType"], "the backup was written to a virtual device")
	require.NoError(t, s.set.Close())
}

func TestNoSetMeansTheDeviceCannotBeOpened(t *testing.T) {
	w := newWorld(t)
	_, err := w.db.Exec("BACKUP DATABASE Src TO VIRTUAL_DEVICE = @p1", "nobody-created-this-set")
	require.Error(t, err)
	require.Equal(t, int32(3201), sqlNumber(err))
	require.ErrorContains(t, err, "nobody-created-this-set")
}

func TestClientAbortFailsTheBackup(t *testing.T) {
	w := newWorld(t)
	s := w.newSession(1, 0)
	sinkErr := errors.New("the vault refused the block")
	_, stmtErr, pumpErrs := func() ([]*memSink, error, []error) {
		list, args := s.devices(2)
		stmtErr, pumpErrs := w.run(s, "BACKUP DATABASE @p1 TO "+list+" WITH FORMAT, MAXTRANSFERSIZE = 65536", append([]any{"Src"}, args...),
			func(i int, d vdi.Device) *vdi.Pump {
				return &vdi.Pump{Device: d, Sink: &memSink{err: sinkErr}, Wait: 100 * time.Millisecond}
			})
		return nil, stmtErr, pumpErrs
	}()
	require.ErrorIs(t, pumpErrs[0], sinkErr)
	require.Error(t, stmtErr, "a write completed with ERROR_OPERATION_ABORTED fails the statement")
	require.Equal(t, int32(3202), sqlNumber(stmtErr))
	require.ErrorContains(t, stmtErr, "995(")
	var n int
	require.NoError(t, w.db.QueryRow("SELECT COUNT(*) FROM msdb.dbo.backupset").Scan(&n))
	require.Zero(t, n, "a failed backup leaves no history")
}

func TestSignalAbortMidBackupFailsTheStatement(t *testing.T) {
	w := newWorld(t)
	s := w.newSession(1, 0)
	list, args := s.devices(2)
	var once sync.Once
	stmtErr, pumpErrs := w.run(s, "BACKUP DATABASE @p1 TO "+list+" WITH FORMAT, MAXTRANSFERSIZE = 65536", append([]any{"Src"}, args...),
		func(i int, d vdi.Device) *vdi.Pump {
			return &vdi.Pump{Device: d, Sink: sinkFunc(func() { once.Do(func() { go func() { _ = s.set.SignalAbort() }() }) }), Wait: 100 * time.Millisecond}
		})
	require.ErrorIs(t, pumpErrs[0], vdi.ErrAborted)
	require.Equal(t, int32(3202), sqlNumber(stmtErr))
}

type sinkFunc func()

func (f sinkFunc) Write(context.Context, []byte) error {
	f()
	time.Sleep(10 * time.Millisecond)
	return nil
}

func TestStreamFaultAbortsTheClient(t *testing.T) {
	w := newWorld(t)
	w.in.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 200000, Fail: true})
	_, stmtErr, pumpErrs := w.backup(w.newSession(1, 0), ", MAXTRANSFERSIZE = 65536")
	require.Equal(t, int32(3202), sqlNumber(stmtErr))
	require.ErrorContains(t, stmtErr, "1117")
	require.ErrorIs(t, pumpErrs[0], vdi.ErrAborted, "SQL Server's failure reaches the client as VD_E_ABORT")
}

func TestDeviceCountMismatchFailsBothSides(t *testing.T) {
	w := newWorld(t)
	s := w.newSession(2, 0)
	done := make(chan error, 1)
	go func() {
		_, err := w.db.Exec("BACKUP DATABASE Src TO VIRTUAL_DEVICE = @p1", s.names[0])
		done <- err
	}()
	_, err := s.set.GetConfiguration(20 * time.Second)
	require.ErrorIs(t, err, vdi.ErrAbort)
	require.Equal(t, int32(3201), sqlNumber(<-done))
	require.NoError(t, s.set.Close())
}

// RESTORE FILELISTONLY from a virtual device reads the media head of the first device and
// closes the set: the client's loops end with VD_E_CLOSE long before their data does.
func TestFileListOnlyReadsTheHeadAndClosesTheSet(t *testing.T) {
	w := newWorld(t)
	sinks, stmtErr, pumpErrs := w.backup(w.newSession(2, 0), "")
	require.NoError(t, stmtErr)
	require.NoError(t, errors.Join(pumpErrs...))
	data := bytesOf(sinks)

	s := w.newSession(2, 0)
	list, args := s.devices(1)
	type result struct {
		files []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		rows, err := w.db.Query("RESTORE FILELISTONLY FROM "+list, args...)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var files []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				done <- result{err: err}
				return
			}
			files = append(files, fmt.Sprint(vals[0]))
		}
		done <- result{files: files, err: rows.Err()}
	}()
	_, err := s.set.GetConfiguration(20 * time.Second)
	require.NoError(t, err)
	pumps := make([]*vdi.Pump, len(s.names))
	var wg sync.WaitGroup
	errs := make([]error, len(s.names))
	for i, n := range s.names {
		d, err := s.set.OpenDevice(n)
		require.NoError(t, err)
		pumps[i] = &vdi.Pump{Device: d, Source: memSource{bytes.NewReader(data[i])}, Wait: 100 * time.Millisecond}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = pumps[i].Run(context.Background()) }()
	}
	wg.Wait()
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, []string{"Src", "Src_log"}, r.files)
	require.NoError(t, errors.Join(errs...), "every device ended with VD_E_CLOSE")
	require.NoError(t, s.set.Close())
	assert.Less(t, pumps[0].Bytes(), int64(len(data[0])), "the first device was read only as far as its head")
	assert.Zero(t, pumps[1].Bytes(), "the other devices were not read")
}

// gateSource serves a stripe until `after` bytes, then holds the next read until release is
// closed; reached is closed when it starts holding.
type gateSource struct {
	r       *bytes.Reader
	after   int
	n       int
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gateSource) Read(ctx context.Context, p []byte) (int, error) {
	if g.n >= g.after {
		g.once.Do(func() { close(g.reached) })
		select {
		case <-g.release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	n, err := g.r.Read(p)
	g.n += n
	return n, err
}

// A RESTORE reading a virtual device is in sys.dm_exec_requests while the bytes move, as SQL
// Server shows a running restore from its start (the simulator reads a virtual device whole
// before it restores, and used to register the request only after: a client watching
// dm_exec_requests saw nothing while the restore waited on the device).
func TestRestoreFromVirtualDeviceIsARunningRequestWhileItReads(t *testing.T) {
	w := newWorld(t)
	sinks, stmtErr, pumpErrs := w.backup(w.newSession(1, 0), ", MAXTRANSFERSIZE = 65536")
	require.NoError(t, stmtErr)
	require.NoError(t, errors.Join(pumpErrs...))
	data := sinks[0].buf.Bytes()
	require.Greater(t, len(data), 256<<10)

	gate := &gateSource{r: bytes.NewReader(data), after: 128 << 10, reached: make(chan struct{}), release: make(chan struct{})}
	s := w.newSession(1, 0)
	list, args := s.devices(1)
	done := make(chan error, 1)
	go func() {
		stmtErr, pumpErrs := w.run(s, "RESTORE DATABASE [Held] FROM "+list+" WITH MOVE 'Src' TO '/d/Held.mdf', MOVE 'Src_log' TO '/d/Held.ldf', MAXTRANSFERSIZE = 65536",
			args, func(_ int, d vdi.Device) *vdi.Pump {
				return &vdi.Pump{Device: d, Source: gate, Wait: 100 * time.Millisecond}
			})
		done <- errors.Join(append(pumpErrs, stmtErr)...)
	}()
	select {
	case <-gate.reached:
	case err := <-done:
		t.Fatalf("the restore ended before its device was held: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the restore never read its device")
	}
	var running []string
	rows, err := w.db.Query("SELECT command FROM sys.dm_exec_requests")
	require.NoError(t, err)
	for rows.Next() {
		var c string
		require.NoError(t, rows.Scan(&c))
		running = append(running, c)
	}
	require.NoError(t, rows.Err())
	close(gate.release)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"RESTORE DATABASE"}, running, "the restore is a running request while it reads its virtual device")
	restored, ok := w.in.Database("Held")
	require.True(t, ok)
	assert.Equal(t, w.src.Digest().String(), restored.Digest().String())
}
