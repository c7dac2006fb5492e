//go:build linux && cgo

package linuxvdi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
	"github.com/sqlvault/sqlvault/internal/sqlsim/vdistandin"
)

// standin builds the stand-in library (failing, never skipping, without g++), loads it
// through Open — the product's dlopen path — and gives the test its own socket directory.
func standin(t *testing.T) (vdi.Platform, string) {
	t.Helper()
	lib, err := vdistandin.Build()
	require.NoError(t, err)
	p, err := linuxvdi.Open(lib)
	require.NoError(t, err)
	require.Equal(t, "libsqlvdi.so at "+lib, p.Describe())
	dir := t.TempDir()
	t.Setenv(vdistandin.DirEnv, dir)
	return p, dir
}

var setSeq atomic.Int64

func setName(t *testing.T) string {
	return fmt.Sprintf("sqlvault-test-%d-%d", time.Now().UnixNano()%1e9, setSeq.Add(1))
}

// newSet creates a set of n devices and returns it with its device names.
func newSet(t *testing.T, p vdi.Platform, n int, features uint32) (vdi.DeviceSet, []string) {
	t.Helper()
	set, err := p.NewSet()
	require.NoError(t, err)
	name := setName(t)
	require.NoError(t, set.Create("", name, vdi.Config{DeviceCount: uint32(n), Features: features}))
	names := []string{name}
	for i := 2; i <= n; i++ {
		names = append(names, fmt.Sprintf("%s-%d", name, i))
	}
	return set, names
}

type sink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	flushes int
}

func (s *sink) Write(_ context.Context, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	return nil
}

func (s *sink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	return nil
}

type source struct{ r *bytes.Reader }

func (s source) Read(_ context.Context, p []byte) (int, error) { return s.r.Read(p) }

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// openAll opens every device of a configured set, in a loop until VD_E_OPEN as [VDI-linux]
// allows.
func openAll(t *testing.T, set vdi.DeviceSet, names []string) []vdi.Device {
	t.Helper()
	var devs []vdi.Device
	for _, n := range names {
		d, err := set.OpenDevice(n)
		require.NoError(t, err)
		devs = append(devs, d)
	}
	_, err := set.OpenDevice(names[0])
	require.ErrorIs(t, err, vdi.ErrOpen)
	return devs
}

func TestBackupBytesCrossTheLibraryInOrder(t *testing.T) {
	p, dir := standin(t)
	set, names := newSet(t, p, 1, vdi.FeatureRequestComplete)
	data := random(t, 3<<20+12345)

	server := make(chan error, 1)
	go func() {
		s, err := vdistandin.OpenSet(context.Background(), dir, names, 65536, 1<<20)
		if err != nil {
			server <- err
			return
		}
		if s.Config.Features != vdi.FeatureRequestComplete || s.Config.DeviceCount != 1 {
			server <- fmt.Errorf("the server saw the client's config %+v", s.Config)
			return
		}
		d := s.Devices[0]
		for off := 0; off < len(data); off += 1 << 20 {
			if err := d.Write(context.Background(), data[off:min(off+1<<20, len(data))]); err != nil {
				server <- err
				return
			}
		}
		for _, c := range []int32{vdistandin.CmdFlush, vdistandin.CmdClearError, vdistandin.CmdComplete} {
			if err := d.Command(context.Background(), c); err != nil {
				server <- err
				return
			}
		}
		server <- s.Close()
	}()

	cfg, err := set.GetConfiguration(10 * time.Second)
	require.NoError(t, err)
	require.Equal(t, uint32(1<<20), cfg.MaxTransferSize, "the statement's MAXTRANSFERSIZE, as the server chose it")
	require.Equal(t, uint32(65536), cfg.BlockSize)
	devs := openAll(t, set, names)
	out := &sink{}
	pump := &vdi.Pump{Device: devs[0], Sink: out, Wait: 100 * time.Millisecond}
	require.NoError(t, pump.Run(context.Background()), "VD_E_CLOSE ends the loop without error")
	require.NoError(t, <-server)
	require.True(t, bytes.Equal(data, out.buf.Bytes()), "the bytes arrive whole and in order")
	require.Equal(t, int64(len(data)), pump.Bytes())
	require.Equal(t, 1, out.flushes)
	require.Equal(t, int64(4+3), pump.Commands(), "4 writes, flush, clear error, complete")

	_, err = devs[0].GetCommand(0)
	require.ErrorIs(t, err, vdi.ErrClose, "a closed device stays closed")
	require.NoError(t, set.Close(), "every device saw VD_E_CLOSE: Close succeeds")
	require.NoError(t, set.Close(), "a second Close does nothing")
	_, err = set.GetConfiguration(0)
	require.ErrorIs(t, err, vdi.ErrProtocol, "a closed set refuses calls")
}

func TestRestoreReadsUntilEOF(t *testing.T) {
	p, dir := standin(t)
	set, names := newSet(t, p, 1, 0)
	data := random(t, 2<<20+777)

	got := make(chan []byte, 1)
	server := make(chan error, 1)
	go func() {
		s, err := vdistandin.OpenSet(context.Background(), dir, names, 65536, 256<<10)
		if err != nil {
			server <- err
			return
		}
		var buf bytes.Buffer
		chunk := make([]byte, 256<<10)
		for {
			n, eof, err := s.Devices[0].Read(context.Background(), chunk)
			if err != nil {
				server <- err
				return
			}
			buf.Write(chunk[:n])
			if eof {
				break
			}
		}
		got <- buf.Bytes()
		server <- s.Close()
	}()

	_, err := set.GetConfiguration(10 * time.Second)
	require.NoError(t, err)
	devs := openAll(t, set, names)
	pump := &vdi.Pump{Device: devs[0], Source: source{bytes.NewReader(data)}, Wait: 100 * time.Millisecond}
	require.NoError(t, pump.Run(context.Background()))
	require.NoError(t, <-server)
	require.True(t, bytes.Equal(data, <-got), "the server read back exactly the bytes the client gave")
	require.NoError(t, set.Close())
}

func TestSeveralDevicesAreStripes(t *testing.T) {
	p, dir := standin(t)
	set, names := newSet(t, p, 3, 0)
	stripes := [][]byte{random(t, 300000), random(t, 5), random(t, 1<<20)}

	server := make(chan error, 1)
	go func() {
		s, err := vdistandin.OpenSet(context.Background(), dir, names, 512, 65536)
		if err != nil {
			server <- err
			return
		}
		var wg sync.WaitGroup
		errs := make([]error, len(s.Devices))
		for i, d := range s.Devices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for off := 0; off < len(stripes[i]); off += 65536 {
					if errs[i] = d.Write(context.Background(), stripes[i][off:min(off+65536, len(stripes[i]))]); errs[i] != nil {
						return
					}
				}
				errs[i] = d.Close()
			}()
		}
		wg.Wait()
		server <- errors.Join(errs...)
	}()

	_, err := set.GetConfiguration(10 * time.Second)
	require.NoError(t, err)
	// The devices open in any order, each by its own name.
	devs := openAll(t, set, []string{names[2], names[0], names[1]})
	sinks := []*sink{{}, {}, {}}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = (&vdi.Pump{Device: d, Sink: sinks[i], Wait: 100 * time.Millisecond}).Run(context.Background())
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.NoError(t, <-server)
	require.True(t, bytes.Equal(stripes[2], sinks[0].buf.Bytes()), "device %s", names[2])
	require.True(t, bytes.Equal(stripes[0], sinks[1].buf.Bytes()), "device %s", names[0])
	require.True(t, bytes.Equal(stripes[1], sinks[2].buf.Bytes()), "device %s", names[1])
	require.NoError(t, set.Close())
}

func TestTimeouts(t *testing.T) {
	p, dir := standin(t)
	set, names := newSet(t, p, 1, 0)
	start := time.Now()
	_, err := set.GetConfiguration(300 * time.Millisecond)
	require.ErrorIs(t, err, vdi.ErrTimeout, "no statement opened the set")
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	_, err = set.GetConfiguration(0)
	require.ErrorIs(t, err, vdi.ErrTimeout, "0 polls")
	_, err = set.OpenDevice(names[0])
	require.ErrorIs(t, err, vdi.ErrProtocol, "devices open only after GetConfiguration")

	opened := make(chan *vdistandin.Set, 1)
	go func() {
		s, err := vdistandin.OpenSet(context.Background(), dir, names, 512, 65536)
		if err == nil {
			opened <- s
		}
		close(opened)
	}()
	_, err = set.GetConfiguration(-1)
	require.NoError(t, err, "a negative timeout waits as long as it takes")
	s := <-opened
	require.NotNil(t, s)
	d, err := set.OpenDevice(names[0])
	require.NoError(t, err)
	start = time.Now()
	_, err = d.GetCommand(200 * time.Millisecond)
	require.ErrorIs(t, err, vdi.ErrTimeout, "the server sent no command")
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	require.NoError(t, s.Close())
	_, err = d.GetCommand(time.Second)
	require.ErrorIs(t, err, vdi.ErrClose)
	require.NoError(t, set.Close())
}

func TestSignalAbortFromAnotherGoroutine(t *testing.T) {
	p, dir := standin(t)

	t.Run("unblocks GetConfiguration", func(t *testing.T) {
		set, _ := newSet(t, p, 1, 0)
		done := make(chan error, 1)
		go func() { _, err := set.GetConfiguration(-1); done <- err }()
		time.Sleep(100 * time.Millisecond)
		require.NoError(t, set.SignalAbort())
		select {
		case err := <-done:
			require.ErrorIs(t, err, vdi.ErrAbort)
		case <-time.After(5 * time.Second):
			t.Fatal("GetConfiguration still blocked after SignalAbort")
		}
		require.NoError(t, set.Close(), "an aborted set closes without VD_E_OPEN")
	})

	t.Run("unblocks GetCommand and fails the server's command", func(t *testing.T) {
		set, names := newSet(t, p, 1, 0)
		server := make(chan error, 1)
		go func() {
			s, err := vdistandin.OpenSet(context.Background(), dir, names, 512, 65536)
			if err != nil {
				server <- err
				return
			}
			server <- s.Devices[0].Write(context.Background(), []byte("never taken"))
		}()
		_, err := set.GetConfiguration(10 * time.Second)
		require.NoError(t, err)
		d, err := set.OpenDevice(names[0])
		require.NoError(t, err)
		cmd, err := d.GetCommand(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, vdi.CmdWrite, cmd.Code)
		require.Equal(t, []byte("never taken"), cmd.Buffer, "the buffer is the library's, holding the server's bytes")

		blocked := make(chan error, 1)
		go func() { _, err := d.GetCommand(-1); blocked <- err }()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, set.SignalAbort())
		require.ErrorIs(t, <-blocked, vdi.ErrAbort)
		require.ErrorIs(t, <-server, vdistandin.ErrClientAborted, "the uncompleted command failed on the server")
		require.ErrorIs(t, d.CompleteCommand(cmd, vdi.ErrorSuccess, uint32(len(cmd.Buffer)), 0), vdi.ErrAbort)
		_, err = set.OpenDevice(names[0])
		require.ErrorIs(t, err, vdi.ErrAbort)
		require.NoError(t, set.Close())
	})

	t.Run("the server's abort reaches the client", func(t *testing.T) {
		set, names := newSet(t, p, 1, 0)
		go func() {
			s, err := vdistandin.OpenSet(context.Background(), dir, names, 512, 65536)
			if err == nil {
				s.Abort()
			}
		}()
		_, err := set.GetConfiguration(10 * time.Second)
		require.NoError(t, err)
		d, err := set.OpenDevice(names[0])
		require.NoError(t, err)
		require.ErrorIs(t, (&vdi.Pump{Device: d, Sink: &sink{}, Wait: 100 * time.Millisecond}).Run(context.Background()), vdi.ErrAborted)
		require.NoError(t, set.Close())
	})
}

func TestCloseWithDevicesOpenAbortsTheSet(t *testing.T) {
	p, dir := standin(t)
	set, names := newSet(t, p, 1, 0)
	server := make(chan error, 1)
	go func() {
		s, err := vdistandin.OpenSet(context.Background(), dir, names, 512, 65536)
		if err != nil {
			server <- err
			return
		}
		server <- s.Devices[0].Write(context.Background(), []byte("x"))
	}()
	_, err := set.GetConfiguration(10 * time.Second)
	require.NoError(t, err)
	_, err = set.OpenDevice(names[0])
	require.NoError(t, err)
	require.ErrorIs(t, set.Close(), vdi.ErrOpen, "a device never saw VD_E_CLOSE")
	require.ErrorIs(t, <-server, vdistandin.ErrClientAborted, "Close aborted the set for the server too")
}

func TestCompletionCodesReachTheServer(t *testing.T) {
	p, dir := standin(t)
	set, names := newSet(t, p, 1, 0)
	server := make(chan error, 1)
	go func() {
		s, err := vdistandin.OpenSet(context.Background(), dir, names, 512, 65536)
		if err != nil {
			server <- err
			return
		}
		server <- s.Devices[0].Write(context.Background(), []byte("refused"))
		s.Abort()
	}()
	_, err := set.GetConfiguration(10 * time.Second)
	require.NoError(t, err)
	d, err := set.OpenDevice(names[0])
	require.NoError(t, err)
	cmd, err := d.GetCommand(5 * time.Second)
	require.NoError(t, err)
	require.ErrorIs(t, d.CompleteCommand(&vdi.Command{}, 0, 0, 0), vdi.ErrInvalid, "not a command this set handed out")
	require.NoError(t, d.CompleteCommand(cmd, vdi.ErrorOperationAborted, 0, 0))
	require.ErrorIs(t, d.CompleteCommand(cmd, vdi.ErrorSuccess, 0, 0), vdi.ErrInvalid, "completed twice")
	var ce *vdistandin.CompletionError
	require.ErrorAs(t, <-server, &ce)
	require.Equal(t, uint32(vdi.ErrorOperationAborted), ce.Code)
	require.NoError(t, set.SignalAbort())
	require.NoError(t, set.Close())
}

func TestCreateRules(t *testing.T) {
	p, _ := standin(t)
	set, err := p.NewSet()
	require.NoError(t, err)
	require.ErrorIs(t, set.Create("INST2", "x", vdi.Config{DeviceCount: 1}), vdi.ErrInstanceName, "Linux has no named instances")
	require.ErrorIs(t, set.Create("", `a\b`, vdi.Config{DeviceCount: 1}), vdi.ErrInvalid)
	require.ErrorIs(t, set.Create("", "x", vdi.Config{DeviceCount: 0}), vdi.ErrNotSupported)
	name := setName(t)
	require.NoError(t, set.Create("MSSQLSERVER", name, vdi.Config{DeviceCount: 1}))
	require.ErrorIs(t, set.Create("", name+"2", vdi.Config{DeviceCount: 1}), vdi.ErrProtocol, "one Create per set until Close")

	other, err := p.NewSet()
	require.NoError(t, err)
	require.ErrorIs(t, other.Create("", name, vdi.Config{DeviceCount: 1}), vdi.ErrProtocol, "the name is taken")
	require.NoError(t, other.Close(), "a set never created closes quietly")
	require.NoError(t, set.Close(), "no statement opened the set: nothing was open")

	// After Close the name is free again.
	again, err := p.NewSet()
	require.NoError(t, err)
	require.NoError(t, again.Create("", name, vdi.Config{DeviceCount: 1}))
	require.NoError(t, again.Close())
}

func TestServerFindsNoSetWithoutCreate(t *testing.T) {
	_, dir := standin(t)
	_, err := vdistandin.OpenSet(context.Background(), dir, []string{"nobody-created-this"}, 512, 65536)
	require.ErrorIs(t, err, vdistandin.ErrNoSet)
}

func TestDeviceCountMismatchAbortsTheSet(t *testing.T) {
	p, dir := standin(t)
	set, names := newSet(t, p, 2, 0)
	server := make(chan error, 1)
	go func() {
		_, err := vdistandin.OpenSet(context.Background(), dir, names[:1], 512, 65536)
		server <- err
	}()
	_, err := set.GetConfiguration(10 * time.Second)
	require.ErrorIs(t, err, vdi.ErrAbort)
	require.ErrorIs(t, <-server, vdistandin.ErrDeviceCount)
	require.NoError(t, set.Close())
}

func TestOpenRefusesWhatIsNotTheLibrary(t *testing.T) {
	_, err := linuxvdi.Open(t.TempDir() + "/libsqlvdi.so")
	require.ErrorIs(t, err, vdi.ErrNoPlatform)
	require.ErrorContains(t, err, "install SQL Server on Linux")
	_, err = linuxvdi.Open("libc.so.6")
	require.ErrorIs(t, err, vdi.ErrNoPlatform)
	require.ErrorContains(t, err, "has no _ZN22ClientVirtualDeviceSet")
}

// Names with characters a file name cannot hold, or too long for a socket path, still meet:
// the library and the server hash them alike.
func TestSetNamesThatNeedHashing(t *testing.T) {
	p, dir := standin(t)
	for _, name := range []string{"sqlvault/db one/" + setName(t), "sqlvault-" + strings.Repeat("x", 90) + setName(t)} {
		set, err := p.NewSet()
		require.NoError(t, err)
		require.NoError(t, set.Create("", name, vdi.Config{DeviceCount: 1}))
		opened := make(chan error, 1)
		go func() {
			s, err := vdistandin.OpenSet(context.Background(), dir, []string{name}, 512, 65536)
			if err == nil {
				err = s.Close()
			}
			opened <- err
		}()
		_, err = set.GetConfiguration(10 * time.Second)
		require.NoError(t, err, name)
		require.NoError(t, <-opened)
		d, err := set.OpenDevice(name)
		require.NoError(t, err)
		_, err = d.GetCommand(time.Second)
		require.ErrorIs(t, err, vdi.ErrClose)
		require.NoError(t, set.Close())
	}
}
