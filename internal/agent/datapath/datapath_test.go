package datapath_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
)

func TestParseKind(t *testing.T) {
	for _, s := range []string{"", "url", " URL "} {
		k, err := datapath.ParseKind(s)
		require.NoError(t, err, s)
		assert.Equal(t, datapath.URL, k, s)
	}
	for _, s := range []string{"vdi", " VDI"} {
		k, err := datapath.ParseKind(s)
		require.NoError(t, err, s)
		assert.Equal(t, datapath.VDI, k, s)
	}
	_, err := datapath.ParseKind("disk")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"disk"`)
	assert.Contains(t, err.Error(), "use url or vdi")
}
