//go:build !windows

package host

// NewServiceManager is the manager for this operating system: systemd.
func NewServiceManager(root Root, runner Runner, log Logf) ServiceManager {
	return Systemd{Root: root, Runner: runner, Log: log}
}
