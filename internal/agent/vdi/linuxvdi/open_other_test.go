//go:build !(linux && cgo)

package linuxvdi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
)

// Without cgo (or off Linux) there is no client: Open says so and what to do.
func TestOpenWithoutTheShimIsErrNoPlatform(t *testing.T) {
	_, err := linuxvdi.Open("")
	require.ErrorIs(t, err, vdi.ErrNoPlatform)
	require.ErrorContains(t, err, "libsqlvdi.so")
}
