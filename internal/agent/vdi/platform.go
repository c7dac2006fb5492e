package vdi

import (
	"errors"
	"time"
)

// Platform is a VDI transport: the client library of the machine's SQL Server — the COM
// class in sqlvdi.dll on Windows (package winvdi), libsqlvdi.so on Linux (package
// linuxvdi). The data path (datapath/vdipath) runs on this interface only, so the same
// path code drives either transport and, in tests, the project's stand-in library.
type Platform interface {
	// Describe says which library this is and where it was loaded from, for `doctor` and
	// for errors ("libsqlvdi.so at /opt/mssql/lib/libsqlvdi.so").
	Describe() string
	// NewSet makes an unused device set. One set serves one BACKUP or RESTORE statement.
	NewSet() (DeviceSet, error)
}

// DeviceSet is one virtual device set (IClientVirtualDeviceSet2 on Windows,
// ClientVirtualDeviceSet on Linux), in the order the protocol calls it: Create, then the
// statement is sent on another connection, then GetConfiguration (returns once SQL Server
// opened the set), OpenDevice for each device, each device's command loop, Close. Methods
// may be called from any goroutine; SignalAbort in particular while others are blocked in
// GetConfiguration or GetCommand, which it makes return ErrAbort.
type DeviceSet interface {
	// Create creates the set name for the instance ("" = the default instance; Linux has no
	// named instances and refuses any other with ErrInstanceName). The statement names name
	// as its first VIRTUAL_DEVICE.
	Create(instance, name string, cfg Config) error
	// GetConfiguration waits up to timeout for SQL Server to open the set and returns the
	// configuration it chose (ErrTimeout if it did not open the set in time).
	GetConfiguration(timeout time.Duration) (Config, error)
	// OpenDevice opens one device of the set by name: the set's name for the first, the
	// statement's further VIRTUAL_DEVICE names for the others. ErrOpen: all are open.
	OpenDevice(name string) (Device, error)
	// SignalAbort ends the set abnormally: no further commands on any device; pending ones
	// complete with ERROR_OPERATION_ABORTED; SQL Server fails the statement.
	SignalAbort() error
	// Close ends the set once every device has returned ErrClose (or after SignalAbort)
	// and releases it. ErrOpen: a device was still open (the library aborted the set).
	Close() error
}

// ErrNoPlatform is returned where a VDI transport was asked for and the machine has none:
// no sqlvdi.dll registered (Windows), no libsqlvdi.so (Linux), or a build without the
// Linux shim (CGO_ENABLED=0).
var ErrNoPlatform = errors.New("vdi: no VDI client library on this machine")
