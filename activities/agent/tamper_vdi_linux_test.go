//go:build linux && cgo

package agent

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
	"github.com/sqlvault/sqlvault/internal/sqlsim/vdistandin"
)

// The same on the VDI path: the product's Linux VDI client over the stand-in libsqlvdi.so,
// SQL Server (the simulator) running BACKUP … TO VIRTUAL_DEVICE and RESTORE … FROM
// VIRTUAL_DEVICE. A VDI restore has no TLS under it: the GCM tag is the only check its
// bytes get, and it refuses the tampered block.
func TestRestoreRefusesATamperedBlockOnTheVDIPath(t *testing.T) {
	lib, err := vdistandin.Build()
	require.NoError(t, err, "the stand-in libsqlvdi.so must build: the machine needs g++")
	p, err := linuxvdi.Open(lib)
	require.NoError(t, err)
	// A short directory: a set's socket path must fit a sockaddr_un (107 bytes), and the
	// product's device names are up to ~65 characters.
	dir, err := os.MkdirTemp("", "vdi")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	t.Setenv(vdistandin.DirEnv, dir)
	w := newUnitWorld(t)
	w.agent.VDI = p
	w.agent.Instances[0].DataPath = datapath.VDI
	tamperedBlockIsRefused(t, w, datapath.VDI)
}
