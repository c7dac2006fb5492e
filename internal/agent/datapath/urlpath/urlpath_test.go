package urlpath_test

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/urlpath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const host = "agent.sqlvault.test"

// memSink keeps a stripe's blocks in memory; stream is the committed stripe.
type memSink struct {
	mu     sync.Mutex
	blocks map[string][]byte
	stream []byte
}

func (s *memSink) PutBlock(_ context.Context, id string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocks == nil {
		s.blocks = map[string][]byte{}
	}
	s.blocks[id] = append([]byte(nil), data...)
	return nil
}

func (s *memSink) Commit(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for _, id := range ids {
		b.Write(s.blocks[id])
	}
	s.stream = b.Bytes()
	return nil
}

type memSource []byte

func (m memSource) Size() int64 { return int64(len(m)) }
func (m memSource) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	return bytes.NewReader(m).ReadAt(p, off)
}

type fixture struct {
	in   *sqlsim.Instance
	conn *sqlserver.Conn
	path *urlpath.Path
}

func newFixture(t *testing.T) *fixture {
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), host)
	require.NoError(t, err)
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	ep, err := endpoint.New(endpoint.Options{Host: host, Listen: listen, CertFile: certFile, KeyFile: keyFile})
	require.NoError(t, err)
	require.NoError(t, ep.Start())
	t.Cleanup(func() { _ = ep.Close() })
	sim := sqlsim.New(sqlsim.Config{TrustedRoots: ca.Pool(), Resolve: map[string]string{host: testenv.LoopbackIP(ep.Addr())}})
	t.Cleanup(func() { _ = sim.Close() })
	in, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "VM1",
		Logins: []sqlsim.Login{{Name: "sqlvault", Password: "pw", Sysadmin: true}}})
	require.NoError(t, err)
	conn, err := sqlserver.Open(in.DSN("sqlvault", "pw", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &fixture{in: in, conn: conn, path: urlpath.New(ep, nil)}
}

func (f *fixture) credentials(t *testing.T) []string {
	names, err := f.conn.Credentials(context.Background(), "https://"+host)
	require.NoError(t, err)
	sort.Strings(names)
	return names
}

// The URL path behind the seam: a session names one URL per stripe under its own
// container, holds a credential for exactly as long as it is open, drops a credential a
// dead process left (never a live session's), and carries SQL Server's BACKUP into the
// sinks and a RESTORE's reads out of the sources.
func TestURLPathSessionsCarryBackupAndRestore(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := f.in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Sales", DataPages: 256})
	require.NoError(t, err)
	stale := "https://" + host + "/op-deadprocess"
	require.NoError(t, f.conn.CreateCredential(ctx, stale, "sv=x&sig=y"))

	sinks := []*memSink{{}, {}}
	bs, err := f.path.OpenBackup(ctx, f.conn, []datapath.BackupStripe{{Name: "p1-a1-s1.bak", Sink: sinks[0]}, {Name: "p1-a1-s2.bak", Sink: sinks[1]}})
	require.NoError(t, err)
	assert.Equal(t, datapath.URL, f.path.Kind())
	assert.Equal(t, sqlserver.DeviceURL, bs.DeviceType())
	devs := bs.Devices()
	require.Len(t, devs, 2)
	container := devs[0][:len(devs[0])-len("/p1-a1-s1.bak")]
	assert.Equal(t, container+"/p1-a1-s2.bak", devs[1])
	assert.Equal(t, []string{container}, f.credentials(t), "the stale credential is dropped, the session's created")

	// A second, concurrent session must not drop the first one's credential.
	other, err := f.path.OpenRestore(ctx, f.conn, []datapath.RestoreStripe{{Name: "x.bak", Source: memSource("x")}})
	require.NoError(t, err)
	assert.Len(t, f.credentials(t), 2)
	other.Close()
	assert.Equal(t, []string{container}, f.credentials(t))

	q, args := sqlserver.BackupCommand{Database: "Sales", Kind: sqlserver.Full, URLs: devs, DeviceType: bs.DeviceType()}.Statement()
	require.NoError(t, f.conn.RunOnSession(ctx, q, args, nil, nil))
	require.NoError(t, bs.Err())
	total := int64(len(sinks[0].stream) + len(sinks[1].stream))
	assert.Positive(t, len(sinks[0].stream))
	assert.Positive(t, len(sinks[1].stream))
	assert.Equal(t, total, bs.Progress().Bytes)
	bs.Close()
	assert.Empty(t, f.credentials(t), "Close drops the session's credential")

	rs, err := f.path.OpenRestore(ctx, f.conn, []datapath.RestoreStripe{
		{Name: "p1-s1.bak", Source: memSource(sinks[0].stream)}, {Name: "p1-s2.bak", Source: memSource(sinks[1].stream)}})
	require.NoError(t, err)
	files, err := rs.FileList(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	assert.Positive(t, rs.Progress().Bytes, "FILELISTONLY read the stripes through the session")
	rs.Close()
	assert.Empty(t, f.credentials(t))
}
