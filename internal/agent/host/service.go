package host

import (
	"context"
	"errors"
)

// ServiceName is the agent's service name on every platform (systemd unit
// sqlvault-agent.service, Windows service sqlvault-agent).
const ServiceName = "sqlvault-agent"

// ServiceUser is the Linux account the service runs as; on Windows the service runs as
// its virtual account WindowsServiceAccount.
const (
	ServiceUser           = "sqlvault"
	WindowsServiceAccount = `NT SERVICE\` + ServiceName
)

// ServiceSpec is what a service runs.
type ServiceSpec struct {
	Executable string // absolute path of sqlvault-worker
	ConfigFile string // passed as --config
}

// ServiceManager installs and controls the agent service.
type ServiceManager interface {
	Install(ctx context.Context, spec ServiceSpec) error
	Uninstall(ctx context.Context) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	// Status is a one-line description: installed or not, running or not, start mode.
	Status(ctx context.Context) (string, error)
}

// ErrNotInstalled is returned by the service commands when the service is not there.
var ErrNotInstalled = errors.New("the sqlvault-agent service is not installed; run `sqlvault-worker service install` first")
