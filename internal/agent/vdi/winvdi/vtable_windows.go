//go:build windows && amd64

package winvdi

import (
	"runtime"
	"unsafe"
)

// NewDeviceSet creates the VDI client object (CoCreateInstance on sqlvdi.dll's class).
// ErrNotRegistered means SQL Server's VDI component is not installed on this machine.
func NewDeviceSet() (*DeviceSet, error) {
	obj, err := createDeviceSet()
	if err != nil {
		return nil, err
	}
	return newDeviceSet(vtblSet{obj}), nil
}

// vtblSet calls IClientVirtualDeviceSet2 through its vtable (slots: abi.go).
type vtblSet struct{ obj unsafe.Pointer }

func (v vtblSet) CreateEx(instance, name *uint16, cfg *vdConfig) HRESULT {
	hr := comCall(v.obj, slotSetCreateEx,
		uintptr(unsafe.Pointer(instance)), uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(cfg)))
	runtime.KeepAlive(instance)
	runtime.KeepAlive(name)
	runtime.KeepAlive(cfg)
	return hr
}

func (v vtblSet) GetConfiguration(timeoutMillis uint32, cfg *vdConfig) HRESULT {
	hr := comCall(v.obj, slotSetGetConfiguration, uintptr(timeoutMillis), uintptr(unsafe.Pointer(cfg)))
	runtime.KeepAlive(cfg)
	return hr
}

func (v vtblSet) OpenDevice(name *uint16) (comDevice, HRESULT) {
	var dev unsafe.Pointer
	hr := comCall(v.obj, slotSetOpenDevice, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(&dev)))
	runtime.KeepAlive(name)
	if hr.Failed() || dev == nil {
		return nil, hr
	}
	return vtblDevice{dev}, hr
}

func (v vtblSet) Close() HRESULT       { return comCall(v.obj, slotSetClose) }
func (v vtblSet) SignalAbort() HRESULT { return comCall(v.obj, slotSetSignalAbort) }
func (v vtblSet) Release()             { release(v.obj) }

// vtblDevice calls IClientVirtualDevice through its vtable.
type vtblDevice struct{ obj unsafe.Pointer }

func (v vtblDevice) GetCommand(timeoutMillis uint32) (*vdcCommand, HRESULT) {
	// The library writes a pointer to its own (non-Go) memory here.
	var cmd *vdcCommand
	hr := comCall(v.obj, slotDeviceGetCommand, uintptr(timeoutMillis), uintptr(unsafe.Pointer(&cmd)))
	return cmd, hr
}

func (v vtblDevice) CompleteCommand(cmd *vdcCommand, completionCode, bytesTransferred uint32, position uint64) HRESULT {
	return comCall(v.obj, slotDeviceCompleteCommand,
		uintptr(unsafe.Pointer(cmd)), uintptr(completionCode), uintptr(bytesTransferred), uintptr(position))
}

func (v vtblDevice) Release() { release(v.obj) }
