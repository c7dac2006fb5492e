package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/datapath/vdipath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
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
	// A key rotation since the earlier attempt: another data key is active now.
	rotated, err := blockcrypt.NewKey(bytes.Repeat([]byte{7}, blockcrypt.KeySize))
	require.NoError(t, err)
	ring := keys.Static(rotated, key)
	u.agent.Vault, u.agent.Keys = vault.NewRepository(vault.NewMemStore(), nil).WithKeys(ring), ring
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
		_, ok, err := u.agent.adopt(ctx, u.sa, u.agent.Vault, in, 2)
		require.NoError(t, err)
		require.False(t, ok, "nothing to adopt yet")

		u.sql(t, fmt.Sprintf("BACKUP DATABASE Sales TO DISK = N'%s' WITH COPY_ONLY", c.device(deviceName(point, 1, 1))))
		_, ok, err = u.agent.adopt(ctx, u.sa, u.agent.Vault, in, 2)
		require.NoError(t, err)
		require.False(t, ok, "SQL Server finished but the stripe is not in the vault: not adopted")

		w := u.agent.Vault.NewStripeWriter(vault.DataBlob(item, point, 1, 1), key, vault.StripeWriterOptions{})
		require.NoError(t, w.PutBlock(ctx, "b1", []byte("stripe")))
		_, err = w.Commit(ctx, []string{"b1"})
		require.NoError(t, err)
		w.Close()
		res, ok, err := u.agent.adopt(ctx, u.sa, u.agent.Vault, in, 2)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int32(1), res.Attempt)
		assert.True(t, res.Adopted)
		assert.Equal(t, string(c.want), res.DataPath)
		assert.Equal(t, key.ID(), res.KeyID, "the key the adopted stripes were sealed with (their index's), not the active one")
		require.Len(t, res.Stripes, 1)
	}
}

// newAgentWith starts an agent (its endpoint on a loopback port with a fresh certificate)
// for instances, with open as its VDI opener, and records its log.
func newAgentWith(t *testing.T, open VDIOpener, instances ...InstanceDSN) (*Agent, *observer.ObservedLogs, error) {
	t.Helper()
	certFile, keyFile, _, err := endpoint.GenerateSelfSigned("sqlvault-agent.local", t.TempDir())
	require.NoError(t, err)
	core, logs := observer.New(zap.InfoLevel)
	a, err := New(Options{VM: "SQLVM1", Instances: instances, VDI: open, Log: zap.New(core),
		Endpoint: endpoint.Options{Host: "sqlvault-agent.local", Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}})
	if a != nil {
		t.Cleanup(a.Close)
	}
	return a, logs, err
}

// pathLines are the agent's start-up lines that say which data path each instance uses.
func pathLines(logs *observer.ObservedLogs) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, e := range logs.FilterMessage("instance data path").All() {
		f := e.ContextMap()
		out[f["instance"].(string)] = f
	}
	return out
}

// An instance without a dataPath streams through VDI where the library opens and through
// URL where it does not; a configured dataPath wins either way. The library is opened once
// for all instances, and the agent says at start which path each instance got and why.
func TestNewChoosesTheDefaultDataPathByTheLibrary(t *testing.T) {
	opened := 0
	present := func() (vdi.Platform, error) { opened++; return stubPlatform{}, nil }
	a, logs, err := newAgentWith(t, present,
		InstanceDSN{Name: "SQLVM1", DSN: "sqlserver://127.0.0.1:1"},
		InstanceDSN{Name: `SQLVM1\URL`, DSN: "sqlserver://127.0.0.1:1", DataPath: datapath.URL},
		InstanceDSN{Name: `SQLVM1\VDI`, DSN: "sqlserver://127.0.0.1:1", DataPath: datapath.VDI})
	require.NoError(t, err)
	assert.Equal(t, 1, opened, "one library for every instance")
	assert.Equal(t, []datapath.Kind{datapath.VDI, datapath.URL, datapath.VDI},
		[]datapath.Kind{a.Instances[0].DataPath, a.Instances[1].DataPath, a.Instances[2].DataPath})
	assert.Equal(t, stubPlatform{}, a.VDI)
	lines := pathLines(logs)
	require.Len(t, lines, 3, "one line per instance")
	assert.Equal(t, "vdi", lines["SQLVM1"]["dataPath"])
	assert.Equal(t, true, lines["SQLVM1"]["default"])
	assert.Contains(t, lines["SQLVM1"]["why"], "dataPath is not set and this machine has the VDI client library (stub VDI), so vdi")
	assert.Equal(t, "url", lines[`SQLVM1\URL`]["dataPath"])
	assert.Equal(t, "dataPath: url in the configuration", lines[`SQLVM1\URL`]["why"])
	assert.Equal(t, "vdi", lines[`SQLVM1\VDI`]["dataPath"])
	assert.Equal(t, "dataPath: vdi in the configuration, through stub VDI", lines[`SQLVM1\VDI`]["why"])

	missing := fmt.Errorf("%w: cannot load /opt/mssql/lib/libsqlvdi.so (no such file)", vdi.ErrNoPlatform)
	a, logs, err = newAgentWith(t, func() (vdi.Platform, error) { return nil, missing },
		InstanceDSN{Name: "SQLVM1", DSN: "sqlserver://127.0.0.1:1"})
	require.NoError(t, err, "no library is no error for an instance that did not ask for vdi")
	assert.Equal(t, datapath.URL, a.Instances[0].DataPath)
	assert.Nil(t, a.VDI)
	line := pathLines(logs)["SQLVM1"]
	assert.Equal(t, "url", line["dataPath"])
	assert.Contains(t, line["why"], "no VDI client library (vdi: no VDI client library on this machine: cannot load /opt/mssql/lib/libsqlvdi.so (no such file)), so url")

	a, _, err = newAgentWith(t, nil, InstanceDSN{Name: "SQLVM1", DSN: "sqlserver://127.0.0.1:1"})
	require.NoError(t, err)
	assert.Equal(t, datapath.URL, a.Instances[0].DataPath, "no opener: no library")

	a, _, err = newAgentWith(t, func() (vdi.Platform, error) { panic("url instances never load the library") },
		InstanceDSN{Name: "SQLVM1", DSN: "sqlserver://127.0.0.1:1", DataPath: datapath.URL})
	require.NoError(t, err)
	assert.Equal(t, datapath.URL, a.Instances[0].DataPath)
}

// Each instance's pool is sized for the steps the agent runs at once (its worker's
// agent.maxConcurrentBackups), so a step's progress probes always find a session.
func TestInstancePoolsFollowTheAgentsConcurrency(t *testing.T) {
	certFile, keyFile, _, err := endpoint.GenerateSelfSigned("sqlvault-agent.local", t.TempDir())
	require.NoError(t, err)
	for _, c := range []struct{ steps, want int }{{0, sqlserver.DefaultMaxOpen}, {4, 10}, {12, 26}} {
		a, err := New(Options{VM: "SQLVM1", MaxConcurrentSteps: c.steps,
			Instances: []InstanceDSN{{Name: "SQLVM1", DSN: "sqlserver://a:b@127.0.0.1:1", DataPath: "url"}},
			Endpoint:  endpoint.Options{Host: "sqlvault-agent.local", Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}})
		require.NoError(t, err)
		assert.Equal(t, c.want, a.Instances[0].Conn.DB().Stats().MaxOpenConnections, "steps %d", c.steps)
		a.Close()
	}
}
