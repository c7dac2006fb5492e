package vdipath

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

// fakePlatform is an in-Go VDI platform whose other side the test plays as SQL Server: a
// statement opens a set by name (open), then sends commands on its devices and closes them.
type fakePlatform struct {
	mu      sync.Mutex
	sets    map[string]*fakeSet // created and not closed, by name
	created []*fakeSet          // every set, in Create order
	newErr  error               // NewSet fails with it
}

func newFakePlatform() *fakePlatform { return &fakePlatform{sets: map[string]*fakeSet{}} }

func (p *fakePlatform) Describe() string { return "fake VDI" }

func (p *fakePlatform) NewSet() (vdi.DeviceSet, error) {
	if p.newErr != nil {
		return nil, p.newErr
	}
	return &fakeSet{p: p, opened: make(chan struct{}), aborted: make(chan struct{})}, nil
}

// live is the sets created and not yet closed.
func (p *fakePlatform) live() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n := range p.sets {
		out = append(out, n)
	}
	return out
}

func (p *fakePlatform) all() []*fakeSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*fakeSet(nil), p.created...)
}

type fakeSet struct {
	p        *fakePlatform
	instance string
	name     string
	cfg      vdi.Config

	opened    chan struct{} // SQL Server opened the set
	aborted   chan struct{} // SignalAbort, by either side
	abortOnce sync.Once

	mu          sync.Mutex
	devices     []*fakeDevice // made when SQL Server opens the set
	handedOut   int
	closed      bool
	clientAbort bool
}

func (s *fakeSet) Create(instance, name string, cfg vdi.Config) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if _, dup := s.p.sets[name]; dup {
		return fmt.Errorf("fake: set %q exists: %w", name, vdi.ErrInvalid)
	}
	s.instance, s.name, s.cfg = instance, name, cfg
	s.p.sets[name] = s
	s.p.created = append(s.p.created, s)
	return nil
}

func (s *fakeSet) GetConfiguration(timeout time.Duration) (vdi.Config, error) {
	select {
	case <-s.opened:
		return s.cfg, nil
	case <-s.aborted:
		return vdi.Config{}, vdi.ErrAbort
	case <-time.After(timeout):
		return vdi.Config{}, vdi.ErrTimeout
	}
}

func (s *fakeSet) OpenDevice(name string) (vdi.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handedOut == len(s.devices) {
		return nil, vdi.ErrOpen
	}
	for _, d := range s.devices {
		if d.name == name && !d.handed {
			d.handed = true
			s.handedOut++
			return d, nil
		}
	}
	return nil, fmt.Errorf("fake: no device %q: %w", name, vdi.ErrInvalid)
}

func (s *fakeSet) SignalAbort() error {
	s.mu.Lock()
	s.clientAbort = true
	s.mu.Unlock()
	s.abort()
	return nil
}

func (s *fakeSet) abort() { s.abortOnce.Do(func() { close(s.aborted) }) }

func (s *fakeSet) isAborted() bool {
	select {
	case <-s.aborted:
		return true
	default:
		return false
	}
}

func (s *fakeSet) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.p.mu.Lock()
	if s.p.sets[s.name] == s {
		delete(s.p.sets, s.name)
	}
	s.p.mu.Unlock()
	return nil
}

type fakeDevice struct {
	set    *fakeSet
	name   string
	handed bool
	cmds   chan *fakeCmd
	closed chan struct{} // SQL Server closed the device
}

type fakeCmd struct {
	vdi.Command
	done chan result
}

type result struct {
	code, n uint32
}

func (d *fakeDevice) GetCommand(timeout time.Duration) (*vdi.Command, error) {
	select {
	case c := <-d.cmds:
		return &c.Command, nil
	case <-d.closed:
		return nil, vdi.ErrClose
	case <-d.set.aborted:
		return nil, vdi.ErrAbort
	case <-time.After(timeout):
		return nil, vdi.ErrTimeout
	}
}

func (d *fakeDevice) CompleteCommand(cmd *vdi.Command, code, n uint32, _ int64) error {
	c := commandOwner(cmd)
	if c == nil {
		return fmt.Errorf("fake: command not handed out or completed twice: %w", vdi.ErrInvalid)
	}
	if d.set.isAborted() {
		c.done <- result{code: vdi.ErrorOperationAborted}
		return vdi.ErrAbort
	}
	c.done <- result{code: code, n: n}
	return nil
}

var (
	ownersMu sync.Mutex
	owners   = map[*vdi.Command]*fakeCmd{}
)

func commandOwner(cmd *vdi.Command) *fakeCmd {
	ownersMu.Lock()
	defer ownersMu.Unlock()
	c := owners[cmd]
	delete(owners, cmd)
	return c
}

// ---- SQL Server's side ----

// errStatement is the statement failing (SQL Server's error, in the real thing).
var errStatement = errors.New("fake SQL Server: the statement failed")

// open is SQL Server starting a statement that names devices (the first is the set's):
// it finds the set and opens it, making its devices.
func (p *fakePlatform) open(devices []string) (*fakeSet, []*fakeDevice, error) {
	p.mu.Lock()
	s := p.sets[devices[0]]
	p.mu.Unlock()
	if s == nil {
		return nil, nil, fmt.Errorf("%w: no virtual device set %q", errStatement, devices[0])
	}
	if int(s.cfg.DeviceCount) != len(devices) {
		return nil, nil, fmt.Errorf("%w: set %q has %d devices, the statement names %d", errStatement, devices[0], s.cfg.DeviceCount, len(devices))
	}
	s.mu.Lock()
	for _, n := range devices {
		s.devices = append(s.devices, &fakeDevice{set: s, name: n, cmds: make(chan *fakeCmd), closed: make(chan struct{})})
	}
	devs := append([]*fakeDevice(nil), s.devices...)
	s.mu.Unlock()
	close(s.opened)
	return s, devs, nil
}

// send hands the client one command and waits for its completion (or the set's abort).
func (d *fakeDevice) send(code vdi.CommandCode, buf []byte) (result, error) {
	c := &fakeCmd{Command: vdi.Command{Code: code, Buffer: buf}, done: make(chan result, 1)}
	ownersMu.Lock()
	owners[&c.Command] = c
	ownersMu.Unlock()
	select {
	case d.cmds <- c:
	case <-d.set.aborted:
		return result{}, fmt.Errorf("%w: the set was aborted", errStatement)
	}
	select {
	case r := <-c.done:
		return r, nil
	case <-d.set.aborted:
		// A command the client holds is completed with ERROR_OPERATION_ABORTED.
		return result{code: vdi.ErrorOperationAborted}, nil
	}
}

// backupDevice writes data to a device in writes of the given sizes (cycled), then flushes,
// sends VDC_Complete when complete, and closes the device. A command that does not succeed
// fails the statement, which aborts the set.
func (d *fakeDevice) backup(data []byte, sizes []int, complete bool) error {
	for i := 0; len(data) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(data))
		buf := append([]byte(nil), data[:n]...)
		r, err := d.send(vdi.CmdWrite, buf)
		if err != nil {
			return err
		}
		if r.code != vdi.ErrorSuccess || r.n != uint32(n) {
			d.set.abort()
			return fmt.Errorf("%w: VDC_Write on %s completed with %d (%d bytes)", errStatement, d.name, r.code, r.n)
		}
		for k := range buf { // the buffer is SQL Server's again: the client must not keep it
			buf[k] = 0xEE
		}
		data = data[n:]
	}
	codes := []vdi.CommandCode{vdi.CmdFlush}
	if complete {
		codes = append(codes, vdi.CmdComplete)
	}
	for _, c := range codes {
		r, err := d.send(c, nil)
		if err != nil {
			return err
		}
		if r.code != vdi.ErrorSuccess {
			d.set.abort()
			return fmt.Errorf("%w: %s on %s completed with %d", errStatement, c, d.name, r.code)
		}
	}
	close(d.closed)
	return nil
}

// restoreDevice reads a device with VDC_Reads of size until the client reports the end
// (ERROR_HANDLE_EOF), or up to limit bytes (limit > 0), then closes the device.
func (d *fakeDevice) restore(size, limit int) ([]byte, error) {
	var out []byte
	for limit <= 0 || len(out) < limit {
		buf := make([]byte, size)
		r, err := d.send(vdi.CmdRead, buf)
		if err != nil {
			return out, err
		}
		out = append(out, buf[:r.n]...)
		if r.code == vdi.ErrorHandleEOF {
			break
		}
		if r.code != vdi.ErrorSuccess {
			d.set.abort()
			return out, fmt.Errorf("%w: VDC_Read on %s completed with %d", errStatement, d.name, r.code)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	close(d.closed)
	return out, nil
}

// runBackup is a BACKUP TO VIRTUAL_DEVICE of one stream per device, devices in parallel.
func (p *fakePlatform) runBackup(devices []string, streams [][]byte, sizes []int, complete bool) error {
	_, devs, err := p.open(devices)
	if err != nil {
		return err
	}
	errs := make([]error, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.backup(streams[i], sizes, complete)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runRestore is a RESTORE FROM VIRTUAL_DEVICE reading every device to its end.
func (p *fakePlatform) runRestore(devices []string, readSize int) ([][]byte, error) {
	_, devs, err := p.open(devices)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(devs))
	errs := make([]error, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = d.restore(readSize, 0)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
