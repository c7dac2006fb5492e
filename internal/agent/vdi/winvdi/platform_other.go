//go:build !(windows && amd64)

package winvdi

// NewDeviceSet fails off Windows: there is no sqlvdi.dll to load.
func NewDeviceSet() (*DeviceSet, error) { return nil, ErrPlatform }
