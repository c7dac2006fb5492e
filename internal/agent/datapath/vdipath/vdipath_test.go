package vdipath

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// memSink is a stripe in memory: blocks by id, the committed list, and what the path did
// with it (sizes, concurrent calls, calls after the session closed).
type memSink struct {
	mu        sync.Mutex
	blocks    map[string][]byte
	committed []string
	commits   int
	maxLen    int

	failPut    int // the n-th PutBlock (1-based) fails with failErr
	failCommit bool
	failErr    error
	hold       chan struct{} // PutBlock waits on it when set
	entered    chan struct{} // signalled on each PutBlock entry when set

	puts, inflight, maxInflight atomic.Int64
}

func newMemSink() *memSink { return &memSink{blocks: map[string][]byte{}} }

func (s *memSink) PutBlock(ctx context.Context, id string, data []byte) error {
	n := s.puts.Add(1)
	in := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		m := s.maxInflight.Load()
		if in <= m || s.maxInflight.CompareAndSwap(m, in) {
			break
		}
	}
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.failPut > 0 && int(n) == s.failPut {
		return s.failErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocks[id] = append([]byte(nil), data...) // data is only valid during the call
	s.maxLen = max(s.maxLen, len(data))
	return nil
}

func (s *memSink) Commit(_ context.Context, ids []string) error {
	if s.failCommit {
		return s.failErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.blocks[id]; !ok {
			return fmt.Errorf("block %q was never put", id)
		}
	}
	s.committed = append([]string(nil), ids...)
	s.commits++
	return nil
}

// content is the committed stripe, and its blocks' sizes.
func (s *memSink) content() ([]byte, []int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	var sizes []int
	for _, id := range s.committed {
		b.Write(s.blocks[id])
		sizes = append(sizes, len(s.blocks[id]))
	}
	return b.Bytes(), sizes, s.commits > 0
}

type memSource struct {
	data []byte
	fail error
}

func (s memSource) Size() int64 { return int64(len(s.data)) }
func (s memSource) ReadAt(_ context.Context, p []byte, off int64) (int, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	n := copy(p, s.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testPath(p vdi.Platform) *Path {
	return New(p, Options{Instance: "INST", ConfigTimeout: 5 * time.Second, FinishTimeout: 5 * time.Second, CommandWait: 20 * time.Millisecond})
}

// noLeaks fails unless, soon, no goroutine runs code of this package's product file and no
// set is left open.
func noLeaks(t *testing.T, p *fakePlatform) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var ours []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "datapath/vdipath/vdipath.go") && !strings.Contains(g, "vdipath_test.go") {
				ours = append(ours, g)
			}
		}
		if len(ours) == 0 && len(p.live()) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: sets %v; goroutines:\n%s", p.live(), strings.Join(ours, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func backupStripes(sinks ...*memSink) []datapath.BackupStripe {
	out := make([]datapath.BackupStripe, len(sinks))
	for i, s := range sinks {
		out[i] = datapath.BackupStripe{Name: fmt.Sprintf("20261126T101530Z-full-01a2b3c4d5-a1-s%d.bak", i+1), Sink: s}
	}
	return out
}

// A BACKUP over three devices, each written in writes of mixed sizes (larger than a block
// too): every stripe commits its device's bytes exactly, as 4 MiB blocks (the last
// shorter) in order, and the commit happened before SQL Server's VDC_Complete was answered —
// so before the statement could end. The set asked for a pipe with VDC_Complete, for the
// configured instance, with one device per stripe named after it.
func TestBackupCommitsEachDevicesBytesAsBlocks(t *testing.T) {
	fp := newFakePlatform()
	path := testPath(fp)
	sinks := []*memSink{newMemSink(), newMemSink(), newMemSink()}
	streams := [][]byte{randomBytes(3*BlockSize+12345, 1), randomBytes(BlockSize, 2), randomBytes(1, 3)}
	sess, err := path.OpenBackup(context.Background(), nil, backupStripes(sinks...))
	require.NoError(t, err)
	assert.Equal(t, datapath.VDI, path.Kind())
	assert.Equal(t, sqlserver.DeviceVirtual, sess.DeviceType())
	devices := sess.Devices()
	require.Len(t, devices, 3)
	for i, d := range devices {
		assert.True(t, strings.HasPrefix(d, "sqlvault_"), d)
		assert.True(t, strings.HasSuffix(d, DeviceSuffix(fmt.Sprintf("20261126T101530Z-full-01a2b3c4d5-a1-s%d.bak", i+1))), d)
		assert.NotContains(t, d, `\`)
		assert.NotContains(t, d, "/")
	}

	require.NoError(t, fp.runBackup(devices, streams, []int{65536, 5 << 20, 1000, BlockSize}, true))
	for i, s := range sinks {
		got, sizes, committed := s.content()
		require.True(t, committed, "stripe %d committed at VDC_Complete, before the statement ended", i+1)
		assert.True(t, bytes.Equal(streams[i], got), "stripe %d holds the device's bytes in order", i+1)
		for k, n := range sizes {
			if k < len(sizes)-1 {
				assert.Equal(t, BlockSize, n, "stripe %d block %d", i+1, k)
			}
		}
		assert.LessOrEqual(t, s.maxLen, BlockSize)
	}
	require.NoError(t, sess.Finish(context.Background()))
	require.NoError(t, sess.Err())
	assert.Equal(t, datapath.Progress{Bytes: int64(3*BlockSize + 12345 + BlockSize + 1), Blocks: 4 + 1 + 1}, sess.Progress())

	sets := fp.all()
	require.Len(t, sets, 1, "one set per statement")
	assert.Equal(t, devices[0], sets[0].name, "the set is named after its first device")
	assert.Equal(t, "INST", sets[0].instance)
	assert.Equal(t, vdi.Config{DeviceCount: 3, Features: vdi.FeaturesLikePipe | vdi.FeatureRequestComplete}, sets[0].cfg)
	sess.Close()
	noLeaks(t, fp)
	assert.Equal(t, 1, sinks[0].commits, "committed once (VDC_Complete, not again at VD_E_CLOSE)")
}

// Without VDC_Complete (a server that does not send it), the stripe commits when SQL Server
// closes the device, and Finish waits for that.
func TestBackupCommitsAtCloseWithoutComplete(t *testing.T) {
	fp := newFakePlatform()
	sink := newMemSink()
	sess, err := testPath(fp).OpenBackup(context.Background(), nil, backupStripes(sink))
	require.NoError(t, err)
	data := randomBytes(BlockSize+5, 4)
	require.NoError(t, fp.runBackup(sess.Devices(), [][]byte{data}, []int{BlockSize}, false))
	require.NoError(t, sess.Finish(context.Background()))
	got, _, committed := sink.content()
	assert.True(t, committed)
	assert.Equal(t, data, got)
	sess.Close()
	noLeaks(t, fp)
}

// The vault failing under a write: SQL Server sees the write completed with
// ERROR_OPERATION_ABORTED (and the set aborted), the session's Err is the vault's error, and
// nothing is committed.
func TestSinkFailureFailsTheStatementAndNamesTheVault(t *testing.T) {
	fp := newFakePlatform()
	vaultDown := errors.New("vault: 503 Service Unavailable")
	bad, good := newMemSink(), newMemSink()
	bad.failPut, bad.failErr = 2, vaultDown
	sess, err := testPath(fp).OpenBackup(context.Background(), nil, backupStripes(bad, good))
	require.NoError(t, err)
	big := randomBytes(4*BlockSize, 5)
	err = fp.runBackup(sess.Devices(), [][]byte{big, big}, []int{BlockSize}, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("completed with %d", vdi.ErrorOperationAborted))
	require.ErrorIs(t, sess.Err(), vaultDown)
	assert.Contains(t, sess.Err().Error(), sess.Devices()[0])
	sess.Close()
	noLeaks(t, fp)
	_, _, committed := bad.content()
	assert.False(t, committed)
	assert.True(t, fp.all()[0].clientAbort, "the agent signalled abort")
}

// A failed commit fails VDC_Complete, so SQL Server fails the BACKUP rather than finish it
// with a stripe the vault does not have.
func TestCommitFailureFailsComplete(t *testing.T) {
	fp := newFakePlatform()
	sink := newMemSink()
	sink.failCommit, sink.failErr = true, errors.New("vault: commit refused")
	sess, err := testPath(fp).OpenBackup(context.Background(), nil, backupStripes(sink))
	require.NoError(t, err)
	err = fp.runBackup(sess.Devices(), [][]byte{randomBytes(100, 6)}, []int{100}, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "VDC_Complete")
	assert.ErrorIs(t, sess.Err(), sink.failErr)
	sess.Close()
	noLeaks(t, fp)
}

// SQL Server aborting (its statement failed) is not the path's failure: Err stays nil and
// the statement's error is what the activity reports.
func TestServerAbortIsNotThePathsError(t *testing.T) {
	fp := newFakePlatform()
	sink := newMemSink()
	sess, err := testPath(fp).OpenBackup(context.Background(), nil, backupStripes(sink))
	require.NoError(t, err)
	set, devs, err := fp.open(sess.Devices())
	require.NoError(t, err)
	_, err = devs[0].send(vdi.CmdWrite, randomBytes(1000, 7))
	require.NoError(t, err)
	set.abort()
	sess.Close()
	noLeaks(t, fp)
	assert.NoError(t, sess.Err())
}

// Backpressure: while the stripe sink holds a block (the vault is slow), SQL Server's next
// writes are not completed: the path itself holds at most one block per device, so its
// memory is one block per device plus the sink's blocks in flight.
func TestBackupMemoryIsOneBlockPerDevice(t *testing.T) {
	fp := newFakePlatform()
	sink := newMemSink()
	sink.hold, sink.entered = make(chan struct{}), make(chan struct{}, 100)
	sess, err := testPath(fp).OpenBackup(context.Background(), nil, backupStripes(sink))
	require.NoError(t, err)
	_, devs, err := fp.open(sess.Devices())
	require.NoError(t, err)
	var accepted atomic.Int64
	done := make(chan error, 1)
	go func() {
		for range 3 * BlockSize / 65536 {
			r, err := devs[0].send(vdi.CmdWrite, make([]byte, 65536))
			if err != nil {
				done <- err
				return
			}
			if r.code != vdi.ErrorSuccess {
				done <- fmt.Errorf("write completed with %d", r.code)
				return
			}
			accepted.Add(int64(r.n))
		}
		done <- nil
	}()
	<-sink.entered
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int64(BlockSize-65536), accepted.Load(), "the write that filled the block waits for the sink; none after it is taken")
	close(sink.hold)
	require.NoError(t, <-done)
	assert.Equal(t, int64(1), sink.maxInflight.Load(), "one PutBlock at a time per device")
	sess.Close()
	noLeaks(t, fp)
}

// Close while SQL Server is still writing: the set is aborted and closed, the statement's
// side sees the abort, and once Close returns no sink call runs or starts.
func TestCloseMidStreamLeavesNothingRunning(t *testing.T) {
	fp := newFakePlatform()
	sink := newMemSink()
	sink.entered = make(chan struct{}, 1000)
	sess, err := testPath(fp).OpenBackup(context.Background(), nil, backupStripes(sink))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- fp.runBackup(sess.Devices(), [][]byte{make([]byte, 64*BlockSize)}, []int{BlockSize}, true)
	}()
	<-sink.entered
	sess.Close()
	assert.Equal(t, int64(0), sink.inflight.Load(), "no sink call in flight after Close")
	puts := sink.puts.Load()
	assert.Error(t, <-done, "SQL Server's statement fails")
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, puts, sink.puts.Load(), "no sink call after Close")
	noLeaks(t, fp)
	assert.True(t, fp.all()[0].clientAbort)
}

// SQL Server not opening the set (the statement never came, or failed before the devices)
// within ConfigTimeout: the set is aborted and closed by itself, and Err names it.
func TestConfigurationTimeout(t *testing.T) {
	fp := newFakePlatform()
	path := New(fp, Options{ConfigTimeout: 50 * time.Millisecond, CommandWait: 20 * time.Millisecond})
	sess, err := path.OpenBackup(context.Background(), nil, backupStripes(newMemSink()))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sess.Err() != nil }, 2*time.Second, 10*time.Millisecond)
	assert.Equal(t, protocol.ErrBackupFailed, protocol.ErrorType(sess.Err()))
	assert.Contains(t, sess.Err().Error(), "did not open virtual device set "+sess.Devices()[0]+" within 50ms")
	assert.ErrorIs(t, sess.Err(), vdi.ErrTimeout)
	assert.Eventually(t, func() bool { return len(fp.live()) == 0 }, time.Second, 10*time.Millisecond, "closed without waiting for Close")
	_, _, err = fp.open(sess.Devices())
	assert.ErrorIs(t, err, errStatement, "a statement after the timeout finds no set")
	sess.Close()
	noLeaks(t, fp)
}

// The platform failing to make a set is an error of OpenBackup naming the library.
func TestOpenFailsWhenThePlatformDoes(t *testing.T) {
	fp := newFakePlatform()
	fp.newErr = vdi.ErrNoPlatform
	_, err := testPath(fp).OpenBackup(context.Background(), nil, backupStripes(newMemSink()))
	require.ErrorIs(t, err, vdi.ErrNoPlatform)
	assert.Contains(t, err.Error(), "fake VDI")
	assert.Equal(t, protocol.ErrBackupFailed, protocol.ErrorType(err))

	_, err = testPath(newFakePlatform()).OpenBackup(context.Background(), nil, []datapath.BackupStripe{{Name: `a\b`, Sink: newMemSink()}})
	assert.ErrorContains(t, err, "cannot be empty or hold")
	noLeaks(t, fp)
}

func restoreStripes(data ...[]byte) []datapath.RestoreStripe {
	out := make([]datapath.RestoreStripe, len(data))
	for i, d := range data {
		out[i] = datapath.RestoreStripe{Name: fmt.Sprintf("20261126T101530Z-full-01a2b3c4d5-s%d.bak", i+1), Source: memSource{data: d}}
	}
	return out
}

// A RESTORE over two devices reads each stripe whole and in order, in SQL Server's read
// size; the end is ERROR_HANDLE_EOF. The set is a pipe without VDC_Complete.
func TestRestoreServesEachStripe(t *testing.T) {
	fp := newFakePlatform()
	stripes := [][]byte{randomBytes(2*BlockSize+7, 8), randomBytes(3, 9)}
	sess, err := testPath(fp).OpenRestore(context.Background(), nil, restoreStripes(stripes...))
	require.NoError(t, err)
	got, err := fp.runRestore(sess.Devices(), 1<<20)
	require.NoError(t, err)
	for i := range stripes {
		assert.True(t, bytes.Equal(stripes[i], got[i]), "stripe %d", i+1)
	}
	assert.Equal(t, int64(2*BlockSize+10), sess.Progress().Bytes)
	assert.Equal(t, vdi.Config{DeviceCount: 2, Features: vdi.FeaturesLikePipe}, fp.all()[0].cfg)
	sess.Close()
	noLeaks(t, fp)
	assert.NoError(t, sess.Err())
}

// The vault failing under a read fails the read (ERROR_OPERATION_ABORTED, never an EOF SQL
// Server could take for the end of the backup), and Err names it.
func TestRestoreSourceFailure(t *testing.T) {
	fp := newFakePlatform()
	vaultDown := errors.New("vault: block authentication failed")
	sess, err := testPath(fp).OpenRestore(context.Background(), nil,
		[]datapath.RestoreStripe{{Name: "p-s1.bak", Source: memSource{data: make([]byte, 10), fail: vaultDown}}})
	require.NoError(t, err)
	_, err = fp.runRestore(sess.Devices(), 4)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("completed with %d", vdi.ErrorOperationAborted))
	assert.ErrorIs(t, sess.Err(), vaultDown)
	sess.Close()
	noLeaks(t, fp)
}

// FileList runs RESTORE FILELISTONLY on a set of its own (its own names), after which the
// RESTORE, naming the session's devices as before, reads every stripe from its start — even
// though FileList took longer than ConfigTimeout.
func TestFileListThenRestore(t *testing.T) {
	fp := newFakePlatform()
	path := New(fp, Options{ConfigTimeout: 100 * time.Millisecond, CommandWait: 20 * time.Millisecond})
	var listed []string
	path.fileList = func(_ context.Context, _ *sqlserver.Conn, devices []string) ([]sqlserver.BackupFile, error) {
		listed = devices
		_, devs, err := fp.open(devices)
		if err != nil {
			return nil, err
		}
		var files []sqlserver.BackupFile
		for _, d := range devs {
			hdr, err := d.restore(4096, 8) // SQL Server reads the header only
			if err != nil {
				return nil, err
			}
			files = append(files, sqlserver.BackupFile{Logical: string(hdr)})
		}
		time.Sleep(150 * time.Millisecond) // FileList and what follows take longer than ConfigTimeout
		return files, nil
	}
	stripes := [][]byte{append([]byte("HEADER01"), randomBytes(BlockSize, 10)...), []byte("HEADER02 and more")}
	sess, err := path.OpenRestore(context.Background(), nil, restoreStripes(stripes...))
	require.NoError(t, err)
	devices := sess.Devices()
	files, err := sess.FileList(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []sqlserver.BackupFile{{Logical: "HEADER01"}, {Logical: "HEADER02"}}, files)
	assert.Equal(t, devices, sess.Devices(), "the RESTORE names the same devices")
	require.Len(t, listed, 2)
	assert.NotEqual(t, devices[0], listed[0], "FILELISTONLY has a set of its own")

	got, err := fp.runRestore(devices, 65536)
	require.NoError(t, err)
	for i := range stripes {
		assert.True(t, bytes.Equal(stripes[i], got[i]), "stripe %d read from its start", i+1)
	}
	require.NoError(t, sess.Err())
	sess.Close()
	noLeaks(t, fp)
	assert.Len(t, fp.all(), 3, "the session's set, FILELISTONLY's, the session's again")
}

func TestInstanceName(t *testing.T) {
	assert.Equal(t, "", InstanceName("SQLVM1"))
	assert.Equal(t, "INST", InstanceName(`SQLVM1\INST`))
}
