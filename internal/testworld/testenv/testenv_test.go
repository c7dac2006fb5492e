package testenv

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRepoRootHasGoMod(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(root, "go.mod"))
}

func TestCAIssuesCertificatesItsPoolTrusts(t *testing.T) {
	ca, err := NewCA()
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile, err := ca.Issue(dir, "agent.sqlvault.test")
	require.NoError(t, err)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	require.NotNil(t, pair.Leaf)

	_, err = pair.Leaf.Verify(x509VerifyOptions(ca, "agent.sqlvault.test"))
	assert.NoError(t, err, "trusted for its DNS name")
	_, err = pair.Leaf.Verify(x509VerifyOptions(ca, "127.0.0.1"))
	assert.NoError(t, err, "trusted for 127.0.0.1")
	_, err = pair.Leaf.Verify(x509VerifyOptions(ca, "other.sqlvault.test"))
	assert.Error(t, err, "not valid for a name it was not issued for")

	other, err := NewCA()
	require.NoError(t, err)
	_, err = pair.Leaf.Verify(x509VerifyOptions(other, "agent.sqlvault.test"))
	assert.Error(t, err, "another CA does not trust it")

	// A second certificate in the same dir must not overwrite the first.
	cert2, _, err := ca.Issue(dir, "b.test")
	require.NoError(t, err)
	assert.NotEqual(t, certFile, cert2)
	assert.Contains(t, string(ca.PEM()), "BEGIN CERTIFICATE")
}

func TestMissingAzuriteSaysRunMakeTools(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644))
	t.Chdir(dir)
	_, _, err := StartAzurite(AzuriteOptions{})
	require.ErrorIs(t, err, ErrAzuriteMissing)
	assert.Contains(t, err.Error(), "run make tools")
}

func TestFreePortIsBindable(t *testing.T) {
	p, err := FreePort()
	require.NoError(t, err)
	assert.Greater(t, p, 0)
}

func TestAzuriteStartsAndStops(t *testing.T) {
	start := time.Now()
	az, stop, err := StartAzurite(AzuriteOptions{})
	require.NoError(t, err)
	t.Logf("Azurite ready in %s at %s", time.Since(start), az.BlobEndpoint)
	assert.Equal(t, "devstoreaccount1", az.Account)
	assert.Contains(t, az.ConnectionString, "BlobEndpoint="+az.BlobEndpoint)

	resp, err := http.Get(az.BlobEndpoint + "?comp=list")
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Unauthenticated listing is refused, but by Azurite: it is serving.
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	stop()
	stop() // idempotent
	_, err = http.Get(az.BlobEndpoint + "?comp=list")
	assert.Error(t, err, "stopped Azurite no longer answers")
	_, err = os.Stat(filepath.Dir(az.LogFile))
	assert.True(t, os.IsNotExist(err), "workspace removed")
}

func TestAzuriteServesHTTPSWithIssuedCert(t *testing.T) {
	ca, err := NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), "blob.sqlsim.test")
	require.NoError(t, err)
	az := AzuriteT(t, AzuriteOptions{TLSCert: certFile, TLSKey: keyFile})
	require.Contains(t, az.BlobEndpoint, "https://127.0.0.1:")

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, err := client.Get(az.BlobEndpoint + "?comp=list")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// Every test endpoint gets port 443 of a loopback address of its own.
func TestLoopback443GivesDistinctLoopbackAddresses(t *testing.T) {
	l1, err := ListenLoopback443()
	require.NoError(t, err)
	defer l1.Close()
	a2, err := Loopback443()
	require.NoError(t, err)
	for _, a := range []string{l1.Addr().String(), a2} {
		ip, port, err := net.SplitHostPort(a)
		require.NoError(t, err)
		assert.Equal(t, "443", port)
		assert.True(t, net.ParseIP(ip).IsLoopback(), a)
		assert.NotEqual(t, "127.0.0.1", ip)
		assert.Equal(t, ip, LoopbackIP(a))
	}
	assert.NotEqual(t, l1.Addr().String(), a2)
	l2, err := net.Listen("tcp", a2)
	require.NoError(t, err, "the address Loopback443 returned is free")
	l2.Close()
}

// A certificate can name the loopback address a test server listens on.
func TestIssueTakesIPAddresses(t *testing.T) {
	ca, err := NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), "agent.sqlvault.test", "127.9.8.7")
	require.NoError(t, err)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	assert.Equal(t, []string{"agent.sqlvault.test"}, pair.Leaf.DNSNames)
	_, err = pair.Leaf.Verify(x509VerifyOptions(ca, "127.9.8.7"))
	assert.NoError(t, err)
	_, _, err = ca.Issue(t.TempDir(), "127.9.8.7")
	assert.Error(t, err, "a DNS name comes first")
}
