package sqlserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const host = "blob.sqlserver.test"

type fixture struct {
	sim   *sqlsim.Simulator
	clock *sqlsim.ManualClock
	in    *sqlsim.Instance
	conn  *sqlserver.Conn
	blobs *blobfake.Server
	base  string
}

func newFixture(t *testing.T) *fixture {
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	cert, key, err := ca.Issue(t.TempDir(), host)
	require.NoError(t, err)
	blobs := blobfake.New()
	// Port 443 of a loopback address of its own: SQL Server accepts no port in a URL.
	ln, err := testenv.ListenLoopback443()
	require.NoError(t, err)
	srv, err := blobfake.NewTLSServer(ln, blobs, cert, key)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	clock := sqlsim.NewManualClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	sim := sqlsim.New(sqlsim.Config{Clock: clock, TrustedRoots: ca.Pool(), Resolve: map[string]string{host: testenv.LoopbackIP(ln.Addr().String())}})
	t.Cleanup(func() { _ = sim.Close() })
	in, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "VM1", Instance: "INST2",
		Logins: []sqlsim.Login{{Name: "sqlvault", Password: "p@ss:w/rd?#%&ü", Sysadmin: true}}})
	require.NoError(t, err)
	conn, err := sqlserver.Open(in.DSN("sqlvault", "p@ss:w/rd?#%&ü", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &fixture{sim: sim, clock: clock, in: in, conn: conn, blobs: blobs, base: "https://" + host}
}

func TestServerAndDatabaseDiscovery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Sales", SizeBytes: 16 << 20})
	require.NoError(t, err)
	_, err = f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Simple ]'ñ", DataPages: 64, Recovery: "SIMPLE"})
	require.NoError(t, err)
	_, err = f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Mirror", DataPages: 64, Mirrored: true})
	require.NoError(t, err)
	_, err = f.conn.DB().Exec("CREATE DATABASE [Sales_snap] ON (NAME = [Sales], FILENAME = '/s.ss') AS SNAPSHOT OF [Sales]")
	require.NoError(t, err)

	s, err := f.conn.Server(ctx)
	require.NoError(t, err)
	assert.Equal(t, `VM1\INST2`, s.ServerName)
	assert.Equal(t, "VM1", s.Machine)
	assert.Equal(t, "INST2", s.InstanceName)
	assert.True(t, s.IsSysadmin)
	assert.Equal(t, "sqlvault", s.Login)
	assert.False(t, s.IsClustered)

	dbs, err := f.conn.Databases(ctx)
	require.NoError(t, err)
	byName := map[string]sqlserver.Database{}
	for _, d := range dbs {
		byName[d.Name] = d
	}
	require.Len(t, byName, 4)
	sales := byName["Sales"]
	assert.Equal(t, "ONLINE", sales.State)
	assert.Equal(t, "FULL", sales.RecoveryModel)
	assert.Equal(t, int64(16<<20), sales.DataBytes)
	assert.Equal(t, 2, sales.Files)
	assert.Empty(t, sales.LastLogBackupLSN)
	assert.Empty(t, sales.DifferentialBaseLSN, "no full yet: no differential base")
	assert.True(t, sales.PreferredReplica)
	assert.True(t, byName["Sales_snap"].IsSnapshot)
	assert.True(t, byName["Mirror"].IsMirrored)
	assert.Equal(t, "SIMPLE", byName["Simple ]'ñ"].RecoveryModel)

	d, err := f.conn.Database(ctx, "Simple ]'ñ")
	require.NoError(t, err)
	assert.Equal(t, "Simple ]'ñ", d.Name)
	_, err = f.conn.Database(ctx, "nope")
	assert.Equal(t, sqlserver.ErrDatabaseNotFound, sqlserver.KindOf(err))
}

func TestBackupWithCredentialProgressAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := "we]ird 'db' ñame"
	db, err := f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: name, DataPages: 2048})
	require.NoError(t, err)
	f.clock.Advance(time.Second)
	_, err = db.Write(10)
	require.NoError(t, err)
	container := f.base + "/op-123"
	f.blobs.AddContainer("op-123", "sv=2020-02-10&sr=c&sp=rw&sig=abc'def")
	require.NoError(t, f.conn.CreateCredential(ctx, container, "?sv=2020-02-10&sr=c&sp=rw&sig=abc'def"))
	// Creating it again replaces it (a retried operation).
	require.NoError(t, f.conn.CreateCredential(ctx, container, "sv=2020-02-10&sr=c&sp=rw&sig=abc'def"))

	cmd := sqlserver.BackupCommand{Database: name, Kind: sqlserver.Full, URLs: []string{container + "/s1.bak", container + "/s2.bak"},
		MaxTransferSize: 1 << 20, BlockSize: 65536, Stats: 10}
	q, args := cmd.Statement()
	assert.NotContains(t, q, name, "names travel as parameters")
	var msgs []sqlserver.Message
	require.NoError(t, f.conn.Run(ctx, q, args, func(m sqlserver.Message) { msgs = append(msgs, m) }))
	var percents int
	for _, m := range msgs {
		if m.Number == 3211 {
			percents++
		}
	}
	assert.Equal(t, 10, percents)
	assert.Equal(t, int32(3014), msgs[len(msgs)-1].Number)

	bs, err := f.conn.BackupSetByDevice(ctx, container+"/s1.bak")
	require.NoError(t, err)
	require.NotNil(t, bs)
	assert.Equal(t, "D", bs.Type)
	assert.Equal(t, 2, bs.Families)
	assert.True(t, bs.HasChecksums)
	assert.NotEmpty(t, bs.FirstLSN)
	assert.Empty(t, bs.DifferentialBaseLSN)
	assert.NotEmpty(t, bs.BackupSetGUID)
	bySuffix, err := f.conn.BackupSetByDeviceSuffix(ctx, "/s2.bak")
	require.NoError(t, err)
	require.NotNil(t, bySuffix)
	assert.Equal(t, bs.BackupSetGUID, bySuffix.BackupSetGUID)
	// The database's differential base is now that full's checkpoint (sys.master_files).
	live, err := f.conn.Database(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, bs.CheckpointLSN, live.DifferentialBaseLSN)
	none, err := f.conn.BackupSetByDevice(ctx, container+"/never.bak")
	require.NoError(t, err)
	assert.Nil(t, none)

	require.NoError(t, f.conn.DropCredential(ctx, container))
	require.NoError(t, f.conn.DropCredential(ctx, container), "dropping a missing credential is fine")
	err = f.conn.Run(ctx, q, args, nil)
	assert.Equal(t, sqlserver.ErrDeviceOpen, sqlserver.KindOf(err))
}

func TestClassifyUserErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "S", DataPages: 16, Recovery: "SIMPLE"})
	require.NoError(t, err)
	_, err = f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "F", DataPages: 16})
	require.NoError(t, err)
	container := f.base + "/op-9"
	f.blobs.AddContainer("op-9", "sig=x")
	require.NoError(t, f.conn.CreateCredential(ctx, container, "sig=x"))
	for _, c := range []struct {
		db   string
		kind sqlserver.BackupKind
		want sqlserver.Kind
	}{
		{"S", sqlserver.Log, sqlserver.ErrLogBackupSimple},
		{"F", sqlserver.Log, sqlserver.ErrNoLogChain},
		{"F", sqlserver.Differential, sqlserver.ErrNoDifferentialBase},
		{"Missing", sqlserver.Full, sqlserver.ErrDatabaseNotFound},
	} {
		q, args := sqlserver.BackupCommand{Database: c.db, Kind: c.kind, URLs: []string{container + "/x.bak"}}.Statement()
		err := f.conn.Run(ctx, q, args, nil)
		require.Error(t, err)
		assert.Equal(t, c.want, sqlserver.KindOf(err), "%v", err)
		var se *sqlserver.Error
		require.ErrorAs(t, err, &se)
		assert.False(t, se.Retryable())
		assert.NotEqual(t, int32(3013), se.Number, "the cause, not the closing 3013")
	}
	// An unreachable server is a retryable kind.
	c, err := sqlserver.Open("sqlserver://a:b@127.0.0.1:1?encrypt=disable&dial+timeout=1")
	require.NoError(t, err)
	_, err = c.Server(ctx)
	assert.Equal(t, sqlserver.ErrUnreachable, sqlserver.KindOf(err))
	assert.False(t, strings.Contains(err.Error(), ":b@"))
}

func TestQuoting(t *testing.T) {
	assert.Equal(t, "[a]]b]", sqlserver.QuoteName("a]b"))
	assert.Equal(t, "N'it''s'", sqlserver.QuoteString("it's"))
}

func TestRestoreCommands(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	name := "Src ]'ñ"
	db, err := f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: name, DataPages: 512})
	require.NoError(t, err)
	f.clock.Advance(time.Second)
	_, err = db.Write(10)
	require.NoError(t, err)
	container := f.base + "/op-r"
	f.blobs.AddContainer("op-r", "sig=r")
	require.NoError(t, f.conn.CreateCredential(ctx, container, "sig=r"))
	q, args := sqlserver.BackupCommand{Database: name, Kind: sqlserver.Full, URLs: []string{container + "/f.bak"}}.Statement()
	require.NoError(t, f.conn.Run(ctx, q, args, nil))
	f.clock.Advance(time.Minute)
	_, err = db.Write(5)
	require.NoError(t, err)
	mid := f.clock.Now()
	f.clock.Advance(time.Minute)
	_, err = db.Write(5)
	require.NoError(t, err)
	f.clock.Advance(time.Second)
	q, args = sqlserver.BackupCommand{Database: name, Kind: sqlserver.Log, URLs: []string{container + "/l.trn"}}.Statement()
	require.NoError(t, f.conn.Run(ctx, q, args, nil))

	files, err := f.conn.FileList(ctx, []string{container + "/f.bak"})
	require.NoError(t, err)
	require.Len(t, files, 2)
	assert.Equal(t, name, files[0].Logical)
	assert.Equal(t, "L", files[1].Type)
	data, logPath, err := f.conn.DefaultPaths(ctx)
	require.NoError(t, err)
	assert.Equal(t, "/var/opt/mssql/data/", data)
	assert.Equal(t, data, logPath)

	target := "Copy ]'ñ"
	st, err := f.conn.Target(ctx, target)
	require.NoError(t, err)
	assert.False(t, st.Exists)
	moves := []sqlserver.Move{{Logical: files[0].Logical, Physical: data + "copy.mdf"}, {Logical: files[1].Logical, Physical: data + "copy.ldf"}}
	q, args = sqlserver.RestoreCommand{Database: target, URLs: []string{container + "/f.bak"}, Moves: moves, NoRecovery: true, Stats: 10}.Statement()
	assert.NotContains(t, q, target)
	require.NoError(t, f.conn.Run(ctx, q, args, nil))
	st, err = f.conn.Target(ctx, target)
	require.NoError(t, err)
	assert.True(t, st.Exists)
	assert.Equal(t, "RESTORING", st.State)
	assert.NotEmpty(t, st.RedoStartLSN)
	q, args = sqlserver.RestoreCommand{Database: target, Log: true, URLs: []string{container + "/l.trn"}, NoRecovery: true, StopAt: &mid}.Statement()
	require.NoError(t, f.conn.Run(ctx, q, args, nil))
	require.NoError(t, f.conn.Recover(ctx, target))
	cp, ok := f.in.Database(target)
	require.True(t, ok)
	assert.Equal(t, db.DigestAt(mid), cp.Digest())
	require.NoError(t, f.conn.CheckDB(ctx, target))
	cp.Corrupt(3)
	assert.Error(t, f.conn.CheckDB(ctx, target))
	require.NoError(t, f.conn.DropDatabase(ctx, target))
	st, err = f.conn.Target(ctx, target)
	require.NoError(t, err)
	assert.False(t, st.Exists)
}
