package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/vdipath"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
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

// A retry adopts the backup an earlier attempt completed, whichever path it took: msdb names
// a virtual device "sqlvault_<token>_<point>-a<n>-s1.bak" and a URL ".../<point>-a<n>-s1.bak";
// the adopted result records that path. (Disk backups under those names stand in for the two
// device kinds here: what adopt reads is msdb's device name.)
func TestAdoptFindsAnEarlierAttemptOnEitherPath(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "Sim-Passw0rd")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales", DataPages: 32, Seed: 3})
	key, err := blockcrypt.NewKey(make([]byte, blockcrypt.KeySize))
	require.NoError(t, err)
	u.agent.Vault, u.agent.Key = vault.NewRepository(vault.NewMemStore(), nil), key
	ctx := context.Background()
	item := vault.ItemID("SQLVM1", "Sales")
	dir := t.TempDir()
	for i, c := range []struct {
		device func(dev string) string
		want   datapath.Kind
	}{
		{func(dev string) string { return filepath.Join(dir, vdipath.DeviceName("0a1b2c3d4e", dev)) }, datapath.VDI},
		{func(dev string) string { return filepath.Join(dir, dev) }, datapath.URL},
	} {
		point := vault.NewPointID(time.Date(2026, 11, 26, 10, 0, i, 0, time.UTC), "full", "")
		in := protocol.StreamBackupInput{Instance: "SQLVM1", Database: "Sales", ItemID: item, PointID: point, Stripes: 1}
		_, ok, err := u.agent.adopt(ctx, u.sa, in, 2)
		require.NoError(t, err)
		require.False(t, ok, "nothing to adopt yet")

		u.sql(t, fmt.Sprintf("BACKUP DATABASE Sales TO DISK = N'%s' WITH COPY_ONLY", c.device(deviceName(point, 1, 1))))
		_, ok, err = u.agent.adopt(ctx, u.sa, in, 2)
		require.NoError(t, err)
		require.False(t, ok, "SQL Server finished but the stripe is not in the vault: not adopted")

		w := u.agent.Vault.NewStripeWriter(vault.DataBlob(item, point, 1, 1), key, vault.StripeWriterOptions{})
		require.NoError(t, w.PutBlock(ctx, "b1", []byte("stripe")))
		_, err = w.Commit(ctx, []string{"b1"})
		require.NoError(t, err)
		w.Close()
		res, ok, err := u.agent.adopt(ctx, u.sa, in, 2)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int32(1), res.Attempt)
		assert.True(t, res.Adopted)
		assert.Equal(t, string(c.want), res.DataPath)
		require.Len(t, res.Stripes, 1)
	}
}
