package datapath_test

import (
	"errors"
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
	k, err := datapath.ParseKind("vdi")
	assert.Equal(t, datapath.VDI, k)
	assert.True(t, errors.Is(err, datapath.ErrVDINotBuilt), "vdi is known but refused until issue 14 builds it: %v", err)
	assert.Contains(t, err.Error(), "issue 14")
	_, err = datapath.ParseKind("disk")
	require.Error(t, err)
	assert.False(t, errors.Is(err, datapath.ErrVDINotBuilt))
	assert.Contains(t, err.Error(), `"disk"`)
}
