package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 11, item 9: a Temporal frontend off this machine without TLS is refused, unless
// the lab override says so by name.
func TestValidateRefusesPlaintextTemporalOffTheMachine(t *testing.T) {
	c := validAgent(t)
	c.Temporal.Address = "temporal.example.com:7233"
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "temporal.address")
	assert.Contains(t, err.Error(), "temporal.allowPlaintext")

	c.Temporal.AllowPlaintext = true
	assert.NoError(t, c.Validate(), "the named lab override")

	c.Temporal.AllowPlaintext = false
	c.Temporal.TLS.Enabled = true
	assert.NoError(t, c.Validate(), "TLS")

	for _, local := range []string{"127.0.0.1:7233", "localhost:7233", "[::1]:7233", "127.0.0.9:7233"} {
		c := validAgent(t)
		c.Temporal.Address = local
		assert.NoError(t, c.Validate(), local)
	}
	// The override from the environment, as docker-compose sets it.
	c2, err := Load("", func(k string) string {
		return map[string]string{"SQLVAULT_TEMPORAL_ADDRESS": "temporal:7233", "SQLVAULT_TEMPORAL_ALLOW_PLAINTEXT": "true"}[k]
	}, nil)
	require.NoError(t, err)
	assert.True(t, c2.Temporal.AllowPlaintext)
}

// Issue 11, item 13: the endpoint's private key (and Temporal's mTLS key) must be readable
// by its owner only, as the vault key file must.
func TestValidateRefusesOpenPrivateKeyFiles(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "ep.crt")
	key := filepath.Join(dir, "ep.key")
	require.NoError(t, os.WriteFile(cert, []byte("c"), 0o644))
	require.NoError(t, os.WriteFile(key, []byte("k"), 0o644))
	c := validAgent(t)
	c.Agent.Endpoint.CertFile, c.Agent.Endpoint.KeyFile = cert, key
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent.endpoint.keyFile")
	assert.Contains(t, err.Error(), "chmod 600")

	c.Temporal.TLS.CertFile, c.Temporal.TLS.KeyFile = cert, key
	assert.Contains(t, c.Validate().Error(), "temporal.tls.keyFile")

	require.NoError(t, os.Chmod(key, 0o600))
	assert.NoError(t, c.Validate())
}

// Issue 11, item 5: agent.restoreRoots entries are absolute folders without "..".
func TestValidateRestoreRoots(t *testing.T) {
	c := validAgent(t)
	c.Agent.RestoreRoots = []string{"/var/backups/sqlvault", `D:\Restore`}
	assert.NoError(t, c.Validate())
	c.Agent.RestoreRoots = []string{"relative", "/a/../b", ""}
	lines := errorLines(c.Validate())
	require.Len(t, lines, 3, "%v", lines)
	for i, l := range lines {
		assert.True(t, strings.HasPrefix(l, "agent.restoreRoots["), l)
		assert.Contains(t, l, []string{"[0]", "[1]", "[2]"}[i])
	}
	// From the file.
	path := filepath.Join(t.TempDir(), "w.yaml")
	require.NoError(t, os.WriteFile(path, []byte("agent:\n  restoreRoots: [/srv/restores, 'E:\\SQL']\n"), 0o600))
	cfg, err := Load(path, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"/srv/restores", `E:\SQL`}, cfg.Agent.RestoreRoots)
}

// Issue 11, item 13: unencrypted TDS is accepted (the simulator and some labs offer no TLS)
// but never silently.
func TestWarningsNameUnencryptedTDS(t *testing.T) {
	c := validAgent(t) // encrypt: disable
	w := strings.Join(c.Warnings(), "\n")
	assert.Contains(t, w, "agent.instances[0].encrypt")
	assert.Contains(t, w, "unencrypted")
	c.Agent.Instances[0].Encrypt = "true"
	assert.Empty(t, c.Warnings())
	c.Agent.Instances[0].Encrypt = "strict"
	assert.Empty(t, c.Warnings())
}
