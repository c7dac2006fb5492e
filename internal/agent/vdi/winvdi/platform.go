package winvdi

import (
	"fmt"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

// Platform is sqlvdi.dll as the data path's transport (vdi.Platform): each NewSet is a new
// IClientVirtualDeviceSet2, its devices the loop's vdi.Device (Device.VDI).
type Platform struct {
	newSet func() (*DeviceSet, error) // NewDeviceSet; tests pass a fake's
}

// Open returns the Windows VDI transport once it has made (and released) one device set,
// which proves sqlvdi.dll's class is registered and COM works in this process. Off
// windows/amd64, or without SQL Server's VDI component, the error is vdi.ErrNoPlatform with
// the reason.
func Open() (vdi.Platform, error) {
	s, err := NewDeviceSet()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vdi.ErrNoPlatform, err)
	}
	_ = s.Close()
	return &Platform{newSet: NewDeviceSet}, nil
}

// Describe names the library.
func (p *Platform) Describe() string {
	return "sqlvdi.dll (COM class MSSQL_ClientVirtualDeviceSet, IClientVirtualDeviceSet2)"
}

// NewSet makes an IClientVirtualDeviceSet2.
func (p *Platform) NewSet() (vdi.DeviceSet, error) {
	s, err := p.newSet()
	if err != nil {
		return nil, err
	}
	return vdiSet{s}, nil
}

// vdiSet is a DeviceSet as vdi.DeviceSet: the same calls, with vdi's Config (the same
// fields) and the devices' VDI() loop interface. Errors are this package's *Error, which
// match vdi's Error values (Error.Is).
type vdiSet struct{ s *DeviceSet }

func (v vdiSet) Create(instance, name string, cfg vdi.Config) error {
	c := Config(cfg)
	return v.s.CreateEx(instance, name, &c)
}

func (v vdiSet) GetConfiguration(timeout time.Duration) (vdi.Config, error) {
	c, err := v.s.GetConfiguration(timeout)
	return vdi.Config(c), err
}

func (v vdiSet) OpenDevice(name string) (vdi.Device, error) {
	d, err := v.s.OpenDevice(name)
	if err != nil {
		return nil, err
	}
	return d.VDI(), nil
}

func (v vdiSet) SignalAbort() error { return v.s.SignalAbort() }
func (v vdiSet) Close() error       { return v.s.Close() }

var _ vdi.Platform = (*Platform)(nil)
