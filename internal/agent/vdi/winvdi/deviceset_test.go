package winvdi

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unsafe"
)

// fakeSet stands in for sqlvdi.dll's objects behind the vtable: it records the calls the
// DeviceSet makes and answers as the test scripts it.
type fakeSet struct {
	mu    sync.Mutex
	calls []string

	instance, name string // CreateEx's arguments; instance "<NULL>" for a NULL pointer
	created        vdConfig
	serverConfig   vdConfig // what GetConfiguration writes
	createHR       HRESULT
	devices        map[string]*fakeDevice
	aborted        chan struct{}
}

type fakeDevice struct {
	set      *fakeSet
	name     string
	commands []*vdcCommand // handed out in order, then VD_E_CLOSE
	block    chan struct{} // if set, GetCommand waits for it (or for abort)

	completed []completion
	timeouts  []uint32
}

type completion struct {
	cmd         *vdcCommand
	code, bytes uint32
	position    uint64
}

func newFakeSet() *fakeSet {
	return &fakeSet{devices: map[string]*fakeDevice{}, aborted: make(chan struct{})}
}

func (f *fakeSet) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *fakeSet) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func fromWide(p *uint16) string {
	if p == nil {
		return "<NULL>"
	}
	var w []uint16
	for ; *p != 0; p = (*uint16)(unsafe.Add(unsafe.Pointer(p), 2)) {
		w = append(w, *p)
	}
	return string(utf16.Decode(w))
}

func (f *fakeSet) CreateEx(instance, name *uint16, cfg *vdConfig) HRESULT {
	f.record("CreateEx")
	f.instance, f.name, f.created = fromWide(instance), fromWide(name), *cfg
	return f.createHR
}

func (f *fakeSet) GetConfiguration(timeoutMillis uint32, cfg *vdConfig) HRESULT {
	f.record("GetConfiguration")
	*cfg = f.serverConfig
	return 0
}

func (f *fakeSet) OpenDevice(name *uint16) (comDevice, HRESULT) {
	n := fromWide(name)
	f.record("OpenDevice " + n)
	d, ok := f.devices[n]
	if !ok {
		return nil, hrVDInvalid
	}
	return d, 0
}

func (f *fakeSet) Close() HRESULT { f.record("Close"); return 0 }

func (f *fakeSet) SignalAbort() HRESULT {
	f.record("SignalAbort")
	select {
	case <-f.aborted:
	default:
		close(f.aborted)
	}
	return 0
}

func (f *fakeSet) Release() { f.record("Release set") }

func (d *fakeDevice) GetCommand(timeoutMillis uint32) (*vdcCommand, HRESULT) {
	d.timeouts = append(d.timeouts, timeoutMillis)
	if d.block != nil {
		select {
		case <-d.block:
		case <-d.set.aborted:
			return nil, hrVDAbort
		}
	}
	if len(d.commands) == 0 {
		return nil, hrVDClose
	}
	c := d.commands[0]
	d.commands = d.commands[1:]
	return c, 0
}

func (d *fakeDevice) CompleteCommand(cmd *vdcCommand, code, bytes uint32, position uint64) HRESULT {
	d.completed = append(d.completed, completion{cmd, code, bytes, position})
	return 0
}

func (d *fakeDevice) Release() { d.set.record("Release " + d.name) }

func (f *fakeSet) device(name string, cmds ...*vdcCommand) *fakeDevice {
	d := &fakeDevice{set: f, name: name, commands: cmds}
	f.devices[name] = d
	return d
}

// The whole client side of one backup, as the DeviceSet drives the library.
func TestBackupThroughTheDeviceSet(t *testing.T) {
	data := []byte("page data")
	write := &vdcCommand{commandCode: uint32(CmdWrite), size: uint32(len(data)), buffer: &data[0]}
	flush := &vdcCommand{commandCode: uint32(CmdFlush)}
	f := newFakeSet()
	f.serverConfig = vdConfig{deviceCount: 1, features: uint32(FeatWriteMedia), blockSize: 65536, maxIODepth: 4, maxTransferSize: 1 << 20}
	dev := f.device("sqlvault-ß-0", write, flush)
	set := newDeviceSet(f)

	if err := set.CreateEx("", "sqlvault-ß-0", &Config{DeviceCount: 1, Features: uint32(FeatRequestComplete)}); err != nil {
		t.Fatal(err)
	}
	if f.instance != "<NULL>" || f.name != "sqlvault-ß-0" {
		t.Fatalf("CreateEx got instance %q name %q", f.instance, f.name)
	}
	if f.created != (vdConfig{deviceCount: 1, features: uint32(FeatRequestComplete)}) {
		t.Fatalf("CreateEx got config %+v", f.created)
	}
	cfg, err := set.GetConfiguration(10 * time.Second)
	if err != nil || !cfg.WritesMedia() || cfg.MaxTransferSize != 1<<20 {
		t.Fatalf("GetConfiguration = %+v, %v", cfg, err)
	}
	d, err := set.OpenDevice("sqlvault-ß-0")
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for {
		cmd, err := d.GetCommand(Infinite)
		if errors.Is(err, ErrClose) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := len(cmd.Buffer())
		got = append(got, cmd.Buffer()...)
		if err := d.CompleteCommand(cmd, CompletionSuccess, uint32(n), 0); err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != string(data) {
		t.Fatalf("backup bytes %q, want %q", got, data)
	}
	if len(dev.completed) != 2 || dev.completed[0] != (completion{write, 0, uint32(len(data)), 0}) || dev.completed[1].cmd != flush {
		t.Fatalf("completions %+v", dev.completed)
	}
	if !slices.Equal(dev.timeouts, []uint32{0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}) {
		t.Fatalf("GetCommand timeouts %v, want INFINITE each time", dev.timeouts)
	}
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"CreateEx", "GetConfiguration", "OpenDevice sqlvault-ß-0", "Close", "Release sqlvault-ß-0", "Release set"}
	if got := f.recorded(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	// Closed: idempotent, and nothing reaches the released objects.
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetCommand(0); !errors.Is(err, ErrReleased) {
		t.Fatalf("GetCommand after Close: %v", err)
	}
	if err := set.SignalAbort(); !errors.Is(err, ErrReleased) {
		t.Fatalf("SignalAbort after Close: %v", err)
	}
	if got := f.recorded(); len(got) != len(want) {
		t.Fatalf("calls after Close reached the library: %v", got[len(want):])
	}
}

func TestCreateExArguments(t *testing.T) {
	for instance, want := range map[string]string{"": "<NULL>", "MSSQLSERVER": "<NULL>", "SQL2022": "SQL2022"} {
		f := newFakeSet()
		if err := newDeviceSet(f).CreateEx(instance, "set", &Config{DeviceCount: 2}); err != nil {
			t.Fatal(err)
		}
		if f.instance != want {
			t.Errorf("instance %q passed as %q, want %q", instance, f.instance, want)
		}
	}
}

// Bad input is refused with a named error before the library is called.
func TestCreateExRefusesBeforeCalling(t *testing.T) {
	for _, c := range []struct {
		instance, name string
		cfg            *Config
		want           error
	}{
		{"", "set", nil, ErrBadConfig},
		{"", "set", &Config{DeviceCount: 0}, ErrBadConfig},
		{"", "set", &Config{DeviceCount: 65}, ErrBadConfig},
		{"", `a\b`, &Config{DeviceCount: 1}, ErrBadName},
		{`HOST\SQL2022`, "set", &Config{DeviceCount: 1}, ErrBadName},
	} {
		f := newFakeSet()
		err := newDeviceSet(f).CreateEx(c.instance, c.name, c.cfg)
		if !errors.Is(err, c.want) {
			t.Errorf("CreateEx(%q, %q, %+v) = %v, want %v", c.instance, c.name, c.cfg, err, c.want)
		}
		if calls := f.recorded(); len(calls) != 0 {
			t.Errorf("CreateEx(%q, %q) called the library: %v", c.instance, c.name, calls)
		}
	}
}

func TestFailuresAreNamed(t *testing.T) {
	f := newFakeSet()
	f.createHR = hrVDInstanceName
	set := newDeviceSet(f)
	err := set.CreateEx("NOPE", "set", &Config{DeviceCount: 1})
	var e *Error
	if !errors.Is(err, ErrInstanceName) || !errors.As(err, &e) || e.Op != "IClientVirtualDeviceSet2::CreateEx" {
		t.Fatalf("CreateEx = %v", err)
	}
	if _, err := set.OpenDevice("unknown"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("OpenDevice of a name not in the set = %v", err)
	}
	// A set CreateEx never made is only released, not closed.
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.recorded(); !slices.Equal(got, []string{"CreateEx", "OpenDevice unknown", "Release set"}) {
		t.Fatalf("calls %v", got)
	}
}

func TestCommandCompletedOnce(t *testing.T) {
	f := newFakeSet()
	dev := f.device("set", &vdcCommand{commandCode: uint32(CmdClearError)})
	set := newDeviceSet(f)
	d, err := set.OpenDevice("set")
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := d.GetCommand(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if dev.timeouts[0] != 1000 {
		t.Fatalf("timeout passed as %d ms", dev.timeouts[0])
	}
	if err := d.CompleteCommand(cmd, CompletionSuccess, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.CompleteCommand(cmd, CompletionSuccess, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second completion = %v", err)
	}
	if err := d.CompleteCommand(nil, CompletionSuccess, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nil completion = %v", err)
	}
	if len(dev.completed) != 1 {
		t.Fatalf("%d completions reached the library", len(dev.completed))
	}
}

// Close does not release objects under a call that is still running: it waits, and if the call
// does not return within the grace period it aborts the set so that it does.
func TestCloseAbortsABlockedCall(t *testing.T) {
	f := newFakeSet()
	dev := f.device("set")
	dev.block = make(chan struct{}) // never closed: only the abort ends the wait
	set := newDeviceSet(f)
	d, err := set.OpenDevice("set")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := d.GetCommand(Infinite)
		done <- err
	}()
	for set.inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < closeGrace {
		t.Fatalf("Close aborted after %v, before the grace period", waited)
	}
	if err := <-done; !errors.Is(err, ErrAbort) {
		t.Fatalf("the blocked GetCommand returned %v, want ErrAbort", err)
	}
	// The device is named "set": its Release, then the set's.
	if got := f.recorded(); !slices.Equal(got, []string{"OpenDevice set", "SignalAbort", "Release set", "Release set"}) {
		t.Fatalf("calls %v", got)
	}
}

// A call that returns within the grace period is waited for, not aborted.
func TestCloseWaitsForAShortCall(t *testing.T) {
	f := newFakeSet()
	dev := f.device("dev")
	dev.block = make(chan struct{})
	set := newDeviceSet(f)
	d, err := set.OpenDevice("dev")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := d.GetCommand(Infinite)
		done <- err
	}()
	for set.inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.AfterFunc(50*time.Millisecond, func() { close(dev.block) })
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClose) {
		t.Fatalf("GetCommand = %v, want ErrClose", err)
	}
	if got := f.recorded(); !slices.Equal(got, []string{"OpenDevice dev", "Release dev", "Release set"}) {
		t.Fatalf("calls %v", got)
	}
}
