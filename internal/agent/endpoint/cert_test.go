package endpoint

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

func TestGenerateSelfSignedServesTheEndpoint(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, caFile, err := GenerateSelfSigned(testHost, dir)
	require.NoError(t, err)

	caPEM, err := os.ReadFile(caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	leaf := pair.Leaf
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: testHost, Roots: pool})
	assert.NoError(t, err, "the CA vouches for the server certificate")
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok)
	assert.Equal(t, elliptic.P256(), pub.Curve)
	assert.WithinDuration(t, time.Now().Add(2*365*24*time.Hour), leaf.NotAfter, 2*time.Hour)

	ca, err := x509.ParseCertificate(pair.Certificate[1])
	require.NoError(t, err, "the certificate file carries the chain")
	assert.Equal(t, []string{testHost}, ca.PermittedDNSDomains, "the CA can vouch only for the agent's host")
	info, err := os.Stat(keyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "the CA key is not kept")

	_, _, _, err = GenerateSelfSigned(testHost, dir)
	assert.ErrorContains(t, err, "already exists", "a trusted CA is never replaced silently")
	_, _, _, err = GenerateSelfSigned("10.0.0.1", t.TempDir())
	assert.Error(t, err)

	// SQL Server's client, trusting only that CA, backs up through the endpoint.
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	srv, err := New(Options{Host: testHost, Listen: listen, CertFile: certFile, KeyFile: keyFile})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	defer srv.Close()
	hosts := map[string]string{testHost: testenv.LoopbackIP(listen)}
	sink := newSink()
	bs, err := srv.OpenBackup(map[string]BackupSink{"db.bak": sink}, time.Minute)
	require.NoError(t, err)
	defer bs.Close()
	client := urlio.NewClient(urlio.Config{RootCAs: pool, Resolve: hosts, Timeout: 10 * time.Second})
	data := randomBytes(t, 1000)
	require.NoError(t, backup(context.Background(), client, blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{}, data))
	assert.Equal(t, data, sink.content())

	// A host that does not trust the CA refuses the endpoint.
	other, err := testenv.NewCA()
	require.NoError(t, err)
	untrusting := urlio.NewClient(urlio.Config{RootCAs: other.Pool(), Resolve: hosts, Timeout: 10 * time.Second})
	_, err = untrusting.Create(context.Background(), blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{Format: true})
	assert.ErrorIs(t, err, urlio.ErrTLS)
}

func TestNewChecksOptions(t *testing.T) {
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), "other.sqlvault.test")
	require.NoError(t, err)
	_, err = New(Options{Host: testHost, CertFile: certFile, KeyFile: keyFile})
	assert.ErrorContains(t, err, "does not cover host", "a certificate for another name is caught at start")
	_, err = New(Options{Host: "127.0.0.1", CertFile: certFile, KeyFile: keyFile})
	assert.ErrorContains(t, err, "IP address", "SQL Server refuses IP address URLs")
	_, err = New(Options{Host: testHost + ":8443", CertFile: certFile, KeyFile: keyFile})
	assert.ErrorContains(t, err, "has a port", "SQL Server refuses URLs with a port")
	_, err = New(Options{Host: testHost, CertFile: filepath.Join(t.TempDir(), "none.pem"), KeyFile: keyFile})
	assert.Error(t, err)

	srv, err := New(Options{Host: "other.sqlvault.test", CertFile: certFile, KeyFile: keyFile})
	require.NoError(t, err)
	assert.Equal(t, DefaultMaxBlockSize, srv.opts.MaxBlockSize)
	assert.Equal(t, DefaultListen, srv.opts.Listen)
	assert.Equal(t, "127.0.0.5:443", DefaultListen, "a loopback address of its own, on the only port SQL Server accepts")
	_, err = srv.OpenBackup(map[string]BackupSink{"db.bak": newSink()}, time.Minute)
	assert.Error(t, err, "sessions need a running server")
}

func TestTrustInstructions(t *testing.T) {
	s := TrustInstructions(testHost, "/etc/sqlvault/sqlvault-endpoint-ca.crt")
	for _, want := range []string{
		"Import-Certificate -FilePath C:\\sqlvault\\sqlvault-endpoint-ca.crt -CertStoreLocation Cert:\\LocalMachine\\Root",
		"certlm.msc",
		"drivers\\etc\\hosts",
		"/usr/local/share/ca-certificates/sqlvault-endpoint-ca.crt",
		"update-ca-certificates",
		"systemctl restart mssql-server",
		"/etc/hosts",
		"127.0.0.5  " + testHost,
		"https://" + testHost + "/",
		"%{http_code}",
	} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, testHost+":", "the instructions never give the endpoint a port")
	assert.False(t, strings.Contains(s, "%!"), "no formatting mistakes")
}

// Issue 11, item 13: the endpoint's private key is refused when group or others may read
// it, as the vault key file is (blockcrypt.LoadKeyFile).
func TestNewRefusesAnOpenKeyFile(t *testing.T) {
	certFile, keyFile, _, err := GenerateSelfSigned(testHost, t.TempDir())
	require.NoError(t, err)
	require.NoError(t, os.Chmod(keyFile, 0o644))
	_, err = New(Options{Host: testHost, CertFile: certFile, KeyFile: keyFile})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chmod 600")
	require.NoError(t, os.Chmod(keyFile, 0o600))
	_, err = New(Options{Host: testHost, CertFile: certFile, KeyFile: keyFile})
	assert.NoError(t, err)
}
