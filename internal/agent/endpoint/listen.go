package endpoint

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
)

// ErrPrivilegedPort is wrapped by Start when the operating system refuses the listen port
// to this process (port 443 is privileged on Linux). The endpoint never falls back to another
// port by itself: SQL Server would not find it there.
var ErrPrivilegedPort = errors.New("endpoint: not allowed to listen on a privileged port")

// Windows socket errors (winsock2.h) that syscall does not name.
const (
	wsaeacces        syscall.Errno = 10013
	wsaeaddrinuse    syscall.Errno = 10048
	wsaeaddrnotavail syscall.Errno = 10049
)

// listenError explains a failed listen in terms of what the operator changes: the agent's
// privileges, the address in agent.endpoint.listen, or the hosts file mapping of host.
func listenError(addr, host string, err error) error {
	ip, port, _ := net.SplitHostPort(addr)
	var errno syscall.Errno
	errors.As(err, &errno)
	switch {
	case errors.Is(err, os.ErrPermission) || errno == wsaeacces:
		if runtime.GOOS == "windows" {
			return fmt.Errorf("%w: cannot listen on %s: %w. Run the agent as Administrator or LocalSystem, "+
				"and check that port %s is not reserved (netsh interface ipv4 show excludedportrange protocol=tcp)",
				ErrPrivilegedPort, addr, err, port)
		}
		exe, xerr := os.Executable()
		if xerr != nil {
			exe = "<path to the worker binary>"
		}
		return fmt.Errorf("%w: cannot listen on %s: %w. SQL Server only accepts backup URLs on port 443, "+
			"and ports below 1024 need privilege on Linux. Do one of: run the agent as root; "+
			"give its binary the capability with `sudo setcap cap_net_bind_service=+ep %s` (again after every upgrade; "+
			"under systemd, AmbientCapabilities=CAP_NET_BIND_SERVICE does the same); "+
			"or let ordinary processes bind 443 with `sudo sysctl -w net.ipv4.ip_unprivileged_port_start=443` "+
			"(persist it in /etc/sysctl.d/)", ErrPrivilegedPort, addr, err, exe)
	case errors.Is(err, syscall.EADDRINUSE) || errno == wsaeaddrinuse:
		return fmt.Errorf("endpoint: cannot listen on %s: %w. Something else already listens there "+
			"(IIS, SSRS, another agent?): choose another loopback address for agent.endpoint.listen, "+
			"e.g. 127.0.0.6:443, and map %s to it in the SQL Server host's hosts file", addr, err, host)
	case errors.Is(err, syscall.EADDRNOTAVAIL) || errno == wsaeaddrnotavail:
		return fmt.Errorf("endpoint: cannot listen on %s: %w. %s is not an address of this machine: "+
			"use a loopback address such as 127.0.0.5 (on macOS add it first: sudo ifconfig lo0 alias %s), "+
			"or an address of one of its network interfaces", addr, err, ip, ip)
	}
	return fmt.Errorf("endpoint: listen on %s: %w", addr, err)
}
