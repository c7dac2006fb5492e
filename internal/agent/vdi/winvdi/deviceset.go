package winvdi

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
)

// comSet is the part of IClientVirtualDeviceSet2 this client calls, one method per vtable
// slot; on Windows each is a call through the COM object's vtable (vtable_windows.go).
type comSet interface {
	CreateEx(instance, name *uint16, cfg *vdConfig) HRESULT
	GetConfiguration(timeoutMillis uint32, cfg *vdConfig) HRESULT
	OpenDevice(name *uint16) (comDevice, HRESULT)
	Close() HRESULT
	SignalAbort() HRESULT
	Release()
}

// comDevice is IClientVirtualDevice.
type comDevice interface {
	GetCommand(timeoutMillis uint32) (*vdcCommand, HRESULT)
	CompleteCommand(cmd *vdcCommand, completionCode, bytesTransferred uint32, position uint64) HRESULT
	Release()
}

// DeviceSet is one IClientVirtualDeviceSet2: the virtual device set of one BACKUP or RESTORE
// statement. Its methods may be called from any goroutine; SignalAbort in particular while
// other goroutines are blocked in GetConfiguration or GetCommand, which it makes return
// ErrAbort.
type DeviceSet struct {
	// mu guards com and the devices' com: calls hold it shared, Close exclusively, so Close
	// never releases an object a call is using.
	mu       sync.RWMutex
	com      comSet       // IClientVirtualDeviceSet2; nil once Close released it
	inflight atomic.Int32 // calls holding mu shared
	created  atomic.Bool  // CreateEx succeeded

	devMu   sync.Mutex
	devices []*Device
}

// Device is one IClientVirtualDevice of a set: one stripe. One goroutine at a time should
// drive it (GetCommand, then CompleteCommand for that command); devices of a set may be
// driven concurrently (mthread runs one thread per device).
type Device struct {
	set  *DeviceSet
	com  comDevice // IClientVirtualDevice; nil once Close released it; guarded by set.mu
	name string
}

func newDeviceSet(com comSet) *DeviceSet { return &DeviceSet{com: com} }

func (s *DeviceSet) enter() (comSet, error) {
	s.mu.RLock()
	if s.com == nil {
		s.mu.RUnlock()
		return nil, ErrReleased
	}
	s.inflight.Add(1)
	return s.com, nil
}

func (s *DeviceSet) leave() {
	s.inflight.Add(-1)
	s.mu.RUnlock()
}

// CreateEx creates the virtual device set setName for the SQL Server instance instanceName
// ("" or MSSQLSERVER for the default instance), configured by cfg (ref CreateEx). The BACKUP
// or RESTORE names setName as its first VIRTUAL_DEVICE. Call it once per set.
func (s *DeviceSet) CreateEx(instanceName, setName string, cfg *Config) error {
	if cfg == nil {
		return fmt.Errorf("%w: no configuration", ErrBadConfig)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := ValidateName(setName); err != nil {
		return err
	}
	instance, isDefault, err := instanceArg(instanceName)
	if err != nil {
		return err
	}
	var instance16 *uint16 // NULL: the default instance
	if !isDefault {
		instance16 = wide(instance)
	}
	raw := cfg.raw()

	com, err := s.enter()
	if err != nil {
		return err
	}
	defer s.leave()
	if err := check("IClientVirtualDeviceSet2::CreateEx", com.CreateEx(instance16, wide(setName), &raw)); err != nil {
		return err
	}
	s.created.Store(true)
	return nil
}

// GetConfiguration waits up to timeout (Infinite: for ever) for SQL Server to open the set —
// that is, for the BACKUP or RESTORE naming it to start — and returns the configuration SQL
// Server chose (ref GetConfiguration). ErrTimeout: the statement has not reached the set;
// ErrAbort: SignalAbort was called.
func (s *DeviceSet) GetConfiguration(timeout time.Duration) (Config, error) {
	com, err := s.enter()
	if err != nil {
		return Config{}, err
	}
	defer s.leave()
	var raw vdConfig
	if err := check("IClientVirtualDeviceSet2::GetConfiguration", com.GetConfiguration(millis(timeout), &raw)); err != nil {
		return Config{}, err
	}
	return configFromRaw(&raw), nil
}

// OpenDevice opens the device name of the set, after GetConfiguration succeeded: the set's
// own name for the first device, the statement's other VIRTUAL_DEVICE names for the rest (ref
// OpenDevice). ErrOpen: every device is already open.
func (s *DeviceSet) OpenDevice(name string) (*Device, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	com, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer s.leave()
	dev, hr := com.OpenDevice(wide(name))
	if err := check("IClientVirtualDeviceSet2::OpenDevice", hr); err != nil {
		return nil, err
	}
	if dev == nil {
		return nil, fmt.Errorf("IClientVirtualDeviceSet2::OpenDevice(%q) returned no device: %w", name, ErrUnexpected)
	}
	d := &Device{set: s, com: dev, name: name}
	s.devMu.Lock()
	s.devices = append(s.devices, d)
	s.devMu.Unlock()
	return d, nil
}

// SignalAbort makes the BACKUP or RESTORE fail: every device stops receiving commands,
// outstanding ones complete with ERROR_OPERATION_ABORTED, and blocked calls return ErrAbort
// (ref SignalAbort). Close the set afterwards.
func (s *DeviceSet) SignalAbort() error {
	com, err := s.enter()
	if err != nil {
		return err
	}
	defer s.leave()
	return check("IClientVirtualDeviceSet2::SignalAbort", com.SignalAbort())
}

// closeGrace is how long Close waits for calls in flight before it aborts the set so they
// return. In the normal sequence every device loop has already seen ErrClose and no call is
// in flight.
const closeGrace = time.Second

// Close closes the set (IClientVirtualDeviceSet::Close, if CreateEx succeeded) and releases
// it and its devices; it may be called more than once. Call it after every device returned
// ErrClose, or after SignalAbort. Calls still in flight are waited for; if they have not
// returned within a second, Close signals abort so that they do. ErrOpen means devices were
// still open: VDI then aborted the set itself (ref Close).
func (s *DeviceSet) Close() error {
	deadline := time.Now().Add(closeGrace)
	aborted := false
	for !s.mu.TryLock() {
		if !aborted && time.Now().After(deadline) {
			_ = s.SignalAbort()
			aborted = true
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer s.mu.Unlock()
	if s.com == nil {
		return nil
	}
	var err error
	if s.created.Load() {
		err = check("IClientVirtualDeviceSet2::Close", s.com.Close())
	}
	// Close, then the devices' Release, then the set's: sqlpipe's order (its only source, so an
	// assumption; mthread never releases its devices). Close invalidates the device interfaces
	// (ref Close); releasing them returns their references.
	s.devMu.Lock()
	for _, d := range s.devices {
		d.com.Release()
		d.com = nil
	}
	s.devices = nil
	s.devMu.Unlock()
	s.com.Release()
	s.com = nil
	return err
}

// Name is the device's name, as OpenDevice got it.
func (d *Device) Name() string { return d.name }

// GetCommand waits up to timeout (Infinite: for ever; 0: poll) for SQL Server's next command
// on this device (ref GetCommand). ErrClose is the normal end: SQL Server closed the device.
// ErrTimeout: no command yet; the caller decides whether to wait again. ErrAbort: either side
// aborted.
func (d *Device) GetCommand(timeout time.Duration) (*Command, error) {
	if _, err := d.set.enter(); err != nil {
		return nil, err
	}
	defer d.set.leave()
	if d.com == nil {
		return nil, ErrReleased
	}
	raw, hr := d.com.GetCommand(millis(timeout))
	if err := check("IClientVirtualDevice::GetCommand", hr); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("IClientVirtualDevice::GetCommand returned no command: %w", ErrUnexpected)
	}
	return newCommand(raw), nil
}

// CompleteCommand hands cmd back to SQL Server with its outcome (ref CompleteCommand):
// completion is a Win32 code (CompletionSuccess, or e.g. CompletionHandleEOF for a VDC_Read at
// the end of the data); bytesTransferred counts what a VDC_Read or VDC_Write moved; position
// answers VDC_GetPosition only. After it, cmd's buffer belongs to SQL Server again.
func (d *Device) CompleteCommand(cmd *Command, completion CompletionCode, bytesTransferred uint32, position uint64) error {
	if cmd == nil {
		return fmt.Errorf("%w: no command", ErrInvalid)
	}
	if _, err := d.set.enter(); err != nil {
		return err
	}
	defer d.set.leave()
	if d.com == nil {
		return ErrReleased
	}
	raw := cmd.take()
	if raw == nil {
		return fmt.Errorf("%w: the command was already completed", ErrInvalid)
	}
	return check("IClientVirtualDevice::CompleteCommand",
		d.com.CompleteCommand(raw, uint32(completion), bytesTransferred, position))
}

// wide is s as a NUL-terminated UTF-16 string (LPCWSTR). Names were validated: no NUL inside.
func wide(s string) *uint16 {
	w := append(utf16.Encode([]rune(s)), 0)
	return &w[0]
}
