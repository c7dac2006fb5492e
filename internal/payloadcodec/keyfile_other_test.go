//go:build !windows

package payloadcodec

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Mode bits (the Windows ACL check is fileacl's, tested there).
func TestKeyFilePermissionsAndFormat(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek := fileKEK(t, dir)
	path := filepath.Join(dir, "codec.keys")
	_, err := Init(ctx, kek, path, time.Now())
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = Load(ctx, kek, path)
	require.ErrorIs(t, err, ErrKeyFileTooOpen)
	assert.Contains(t, err.Error(), "chmod 600 "+path)

	_, err = Load(ctx, kek, filepath.Join(dir, "vault.key")) // the vault key file is not a codec key file
	require.ErrorIs(t, err, ErrKeyFileFormat)

	_, err = Load(ctx, kek, filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "sqlvault codec init")
}
