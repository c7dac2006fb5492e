package agent

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

type stubPlatform struct{}

func (stubPlatform) Describe() string               { return "stub VDI" }
func (stubPlatform) NewSet() (vdi.DeviceSet, error) { return nil, vdi.ErrNoPlatform }

// An instance configured with dataPath: vdi needs the VDI library: without an opener, or
// when the opener finds none, the agent does not start, and the error says what to do.
// URL instances never ask for it.
func TestNewNeedsTheVDILibraryForAVDIInstance(t *testing.T) {
	in := []InstanceDSN{{Name: "SQLVM1", DSN: "sqlserver://x", DataPath: datapath.VDI}}
	_, err := New(Options{VM: "SQLVM1", Instances: in})
	require.ErrorIs(t, err, datapath.ErrNoVDI)
	assert.ErrorIs(t, err, vdi.ErrNoPlatform)
	assert.Contains(t, err.Error(), "agent.instances[0] (SQLVM1).dataPath")
	assert.Contains(t, err.Error(), "set dataPath: url")

	missing := errors.New("libsqlvdi.so: cannot open shared object file")
	_, err = New(Options{VM: "SQLVM1", Instances: in, VDI: func() (vdi.Platform, error) { return nil, missing }})
	require.ErrorIs(t, err, datapath.ErrNoVDI)
	assert.ErrorIs(t, err, missing)

	_, err = New(Options{VM: "SQLVM1", Instances: []InstanceDSN{{Name: "SQLVM1", DataPath: "disk"}},
		VDI: func() (vdi.Platform, error) { panic("not asked for a URL or unknown path") }})
	assert.ErrorContains(t, err, `unknown data path "disk": use url or vdi`)
}

// Each instance streams through its configured path: URL by default, VDI (one path per
// instance, named after the instance's VDI name) when configured and the library is there.
func TestDataPathPerInstance(t *testing.T) {
	a := &Agent{VM: "SQLVM1", Instances: []Instance{{Name: "SQLVM1"}, {Name: `SQLVM1\INST`, DataPath: datapath.VDI}}}
	p, err := a.dataPath("sqlvm1")
	require.NoError(t, err)
	assert.Equal(t, datapath.URL, p.Kind())

	_, err = a.dataPath(`SQLVM1\INST`)
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err), "vdi without a library: %v", err)

	a.VDI = stubPlatform{}
	p, err = a.dataPath(`sqlvm1\inst`)
	require.NoError(t, err)
	assert.Equal(t, datapath.VDI, p.Kind())
	again, err := a.dataPath(`SQLVM1\INST`)
	require.NoError(t, err)
	assert.Same(t, p, again, "one VDI path per instance")
}
