package control

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/vault"
)

// The stream's data path becomes the manifest's: URL — or an agent too old to say, which
// only had URL — is the absence of the field; VDI is recorded.
func TestManifestDataPathFromTheStream(t *testing.T) {
	assert.Equal(t, "", manifestDataPath(""))
	assert.Equal(t, "", manifestDataPath("url"))
	assert.Equal(t, vault.DataPathVDI, manifestDataPath("vdi"))
}
