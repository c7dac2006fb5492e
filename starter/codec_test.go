package starter

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
)

// The codec key commands: init never overwrites; export needs --vm and --out and a VM that
// key.vms names, refusing by name and writing nothing otherwise; its copy opens with the
// VM's KEK alone and holds the same keys; rewrap with nothing to do says so.
func TestCodecCommands(t *testing.T) {
	dir := t.TempDir()
	fleetKey := filepath.Join(dir, "vault.key")
	vmKey := filepath.Join(dir, "sqlvm1.key")
	for _, p := range []string{fleetKey, vmKey} {
		_, err := blockcrypt.GenerateKeyFile(p)
		require.NoError(t, err)
	}
	codecFile := filepath.Join(dir, "codec.keys")
	cfg := filepath.Join(dir, "sqlvault.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("key:\n  file: %s\n  vms:\n    sqlvm1: {file: %s}\ncodec:\n  keyFile: %s\n", fleetKey, vmKey, codecFile)), 0o600))

	out, err := runCLI(t, "codec", "init", "--config", cfg)
	require.NoError(t, err, out)
	assert.Contains(t, out, "active codec key codec-")
	before, err := os.ReadFile(codecFile)
	require.NoError(t, err)
	_, err = runCLI(t, "codec", "init", "--config", cfg)
	require.ErrorIs(t, err, payloadcodec.ErrKeyFileExists)
	after, err := os.ReadFile(codecFile)
	require.NoError(t, err)
	assert.Equal(t, before, after, "init never overwrites")

	vmCopy := filepath.Join(dir, "codec-sqlvm1.keys")
	_, err = runCLI(t, "codec", "export", "--config", cfg, "--out", vmCopy)
	require.ErrorContains(t, err, "codec export needs --vm NAME")
	_, err = runCLI(t, "codec", "export", "--config", cfg, "--vm", "sqlvm9", "--out", vmCopy)
	require.ErrorContains(t, err, "VM sqlvm9 has no KEK of its own configured")
	_, err = os.Stat(vmCopy)
	require.ErrorIs(t, err, os.ErrNotExist, "a refused export writes nothing")

	out, err = runCLI(t, "codec", "export", "--config", cfg, "--vm", "sqlvm1", "--out", vmCopy)
	require.NoError(t, err, out)
	assert.Contains(t, out, "wrapped under VM sqlvm1's own KEK")
	kek, err := keys.OpenFileKEK(vmKey)
	require.NoError(t, err)
	vmCodec, err := payloadcodec.Load(t.Context(), kek, vmCopy)
	require.NoError(t, err)
	fleetKEK, err := keys.OpenFileKEK(fleetKey)
	require.NoError(t, err)
	fleetCodec, err := payloadcodec.Load(t.Context(), fleetKEK, codecFile)
	require.NoError(t, err)
	assert.Equal(t, fleetCodec.KeyIDs(), vmCodec.KeyIDs())

	out, err = runCLI(t, "codec", "rewrap", "--config", cfg)
	require.NoError(t, err, out)
	assert.Contains(t, out, "already wrapped under the current KEK")
}
