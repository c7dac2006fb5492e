package endpoint

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// The endpoint binds port 443 of a loopback address of its own, and every URL it hands out
// is https://<host>/… with no port: what SQL Server accepts. SQL Server's client (urlio)
// reaches it through a hosts-file mapping of the name to that address.
func TestEndpointOnLoopbackAlias443HasPortlessURLs(t *testing.T) {
	e := newEnv(t, nil)
	host, port, err := net.SplitHostPort(e.srv.Addr())
	require.NoError(t, err)
	assert.Equal(t, "443", port)
	ip := net.ParseIP(host)
	require.NotNil(t, ip)
	assert.True(t, ip.IsLoopback(), "bound to a loopback address, not all interfaces")
	assert.NotEqual(t, "127.0.0.1", host, "an address of its own")

	assert.Equal(t, "https://"+testHost, e.srv.BaseURL())
	sink := newSink()
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})
	for _, s := range []string{bs.ContainerURL(), bs.URL("db.bak")} {
		u, err := url.Parse(s)
		require.NoError(t, err)
		assert.Equal(t, "https", u.Scheme, s)
		assert.Equal(t, testHost, u.Host, "no port in %s", s)
	}
	data := randomBytes(t, 3000)
	require.NoError(t, backup(context.Background(), e.client, blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{}, data))
	assert.Equal(t, data, sink.content())
}

func TestCheckHostRefusesWhatSQLServerRefuses(t *testing.T) {
	for host, want := range map[string]string{
		"":                               "empty",
		"https://agent.sqlvault.test":    "is a URL",
		"http://agent.sqlvault.test":     "is a URL",
		"agent.sqlvault.test:8443":       "has a port",
		"agent.sqlvault.test:443":        "has a port",
		"127.0.0.5":                      "IP address",
		"::1":                            "IP address",
		"[::1]":                          "IP address",
		"agent_1.sqlvault.test":          "not a DNS name",
		"agent.sqlvault.test/backups":    "not a DNS name",
		"-agent.sqlvault.test":           "not a DNS name",
		strings.Repeat("a", 64) + ".dev": "not a DNS name",
	} {
		err := CheckHost(host)
		assert.ErrorContains(t, err, want, host)
	}
	for _, host := range []string{"sqlvault-agent.local", "SQLVM1", "agent.corp.example.com"} {
		assert.NoError(t, CheckHost(host), host)
	}
}

// Without the privilege to bind 443 the endpoint says exactly how to get it, and does not
// move to another port. The error is made up here: the tests run as root.
func TestListenPermissionDeniedSaysWhatToDo(t *testing.T) {
	denied := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}
	err := listenError("127.0.0.5:443", testHost, denied)
	assert.ErrorIs(t, err, ErrPrivilegedPort)
	assert.ErrorIs(t, err, syscall.EACCES)
	for _, want := range []string{"127.0.0.5:443", "run the agent as root", "setcap cap_net_bind_service=+ep",
		"sysctl -w net.ipv4.ip_unprivileged_port_start=443"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestListenAddressTakenSaysWhatToDo(t *testing.T) {
	l, err := testenv.ListenLoopback443()
	require.NoError(t, err)
	defer l.Close()
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), testHost)
	require.NoError(t, err)
	srv, err := New(Options{Host: testHost, Listen: l.Addr().String(), CertFile: certFile, KeyFile: keyFile})
	require.NoError(t, err)
	err = srv.Start()
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.ErrorContains(t, err, "choose another loopback address for agent.endpoint.listen")
	assert.ErrorContains(t, err, "map "+testHost+" to it")
	assert.Empty(t, srv.BaseURL(), "no URL for an endpoint that is not listening")

	// And a server that cannot start opens no sessions.
	_, err = srv.OpenBackup(map[string]BackupSink{"db.bak": newSink()}, time.Minute)
	assert.Error(t, err)
}

// The default configuration (config.Default) makes an endpoint whose URLs have no port,
// listening where the endpoint's own default says: port 443 of 127.0.0.5.
func TestDefaultConfigurationGivesPortlessURL(t *testing.T) {
	d := config.Default().Agent.Endpoint
	assert.Equal(t, DefaultListen, d.Listen)
	require.NoError(t, CheckHost(d.Host))

	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), d.Host)
	require.NoError(t, err)
	// Not d.Listen itself: a `make run` on this machine may hold 127.0.0.5:443.
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	srv, err := New(Options{Host: d.Host, Listen: listen, CertFile: certFile, KeyFile: keyFile})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	defer srv.Close()
	u, err := url.Parse(srv.BaseURL())
	require.NoError(t, err)
	assert.Equal(t, "https", u.Scheme)
	assert.Equal(t, d.Host, u.Host)
	assert.Empty(t, u.Port(), "SQL Server refuses a backup URL with a port")
}
