package testenv

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"syscall"
)

// SQL Server accepts a backup URL only on the default HTTPS port (docs in
// internal/sqlsim/FIDELITY.md, "Backup URL and endpoint address"), so every blob endpoint a
// test gives the simulator listens on port 443. Each one takes an address of its own in
// 127.0.0.0/8, which Linux routes to the loopback interface as a whole: test processes
// running side by side (go test runs packages in parallel) never share one, and the
// simulator reaches each by mapping the endpoint's host name to its address, as a VM's
// hosts file does.

// ErrPrivilegedPort is wrapped when port 443 cannot be bound for lack of privilege.
var ErrPrivilegedPort = errors.New("testenv: binding port 443 needs privilege: run the tests as root, " +
	"or allow unprivileged processes to bind it with `sudo sysctl net.ipv4.ip_unprivileged_port_start=443`")

// ListenLoopback443 listens on port 443 of a fresh loopback address 127.a.b.c (never
// 127.0.0.1, nor the 127.0.0.x addresses people give their own agents), trying another
// address when one is taken.
func ListenLoopback443() (net.Listener, error) {
	var lastErr error
	for range 20 {
		addr := net.JoinHostPort(randomLoopback(), "443")
		l, err := net.Listen("tcp", addr)
		if err == nil {
			return l, nil
		}
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("%w (%v)", ErrPrivilegedPort, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("testenv: no free loopback address for port 443: %w", lastErr)
}

// Loopback443 returns an address 127.a.b.c:443 that was free a moment ago, for servers that
// bind by themselves (the agent endpoint, Azurite). With about 16 million addresses to pick
// from, another process taking the same one in between is not a practical concern.
func Loopback443() (string, error) {
	l, err := ListenLoopback443()
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	return addr, nil
}

// LoopbackIP is the IP address of a host:port address, for a hosts-file style mapping.
func LoopbackIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// randomLoopback picks 127.a.b.c with a in 16..254 and b, c in 1..254.
func randomLoopback() string {
	n := func(lo, hi int64) int64 {
		v, err := rand.Int(rand.Reader, big.NewInt(hi-lo+1))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		return lo + v.Int64()
	}
	return fmt.Sprintf("127.%d.%d.%d", n(16, 254), n(1, 254), n(1, 254))
}
