package agent

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/activities/control"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
)

const unitAgentHost = "agent.sqlvault.test"

// unitWorld is an agent with its endpoint, a simulated instance that sends its backups to
// that endpoint, an in-memory vault, and the control side's commit and plan on the same
// vault: every activity of a backup and a restore, run one by one in Temporal's activity
// test environment as the workflows would run them.
type unitWorld struct {
	*unitSim
	repo *vault.Repository
	// keys is the keyring the repository (agent and control alike) authenticates with: a
	// test that gives the agent another key source sets it here too (useKeys).
	keys *swappableKeys
	root string // the agent's restore root
}

// swappableKeys is a vault.Keyring whose keys a test may replace after the activities were
// registered with the repository.
type swappableKeys struct{ vault.Keyring }

// useKeys makes src the agent's key source and the repository's keyring.
func (w *unitWorld) useKeys(src keys.Source) {
	w.agent.Keys = src
	w.keys.Keyring = src
}

func newUnitWorld(t *testing.T) *unitWorld {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, caFile, err := endpoint.GenerateSelfSigned(unitAgentHost, dir)
	require.NoError(t, err)
	caPEM, err := os.ReadFile(caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))

	sim := sqlsim.New(sqlsim.Config{TrustedRoots: pool})
	t.Cleanup(func() { _ = sim.Close() })
	inst, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "SQLVM1"})
	require.NoError(t, err)
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	ep, err := endpoint.New(endpoint.Options{Host: unitAgentHost, Listen: listen, CertFile: certFile, KeyFile: keyFile})
	require.NoError(t, err)
	require.NoError(t, ep.Start())
	t.Cleanup(func() { _ = ep.Close() })
	inst.SetHostsEntry(unitAgentHost, testenv.LoopbackIP(listen))

	sa, err := sqlserver.Open(inst.DSN("sa", "Sim-Passw0rd", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sa.Close() })
	key, err := blockcrypt.NewKey(make([]byte, blockcrypt.KeySize))
	require.NoError(t, err)
	ring := &swappableKeys{vault.Keys{key}}
	repo := vault.NewRepository(vault.NewMemStore(), nil).WithKeys(ring)
	root := t.TempDir()
	a := &Agent{VM: "SQLVM1", Endpoint: ep, Vault: repo, Keys: keys.Static(key), HeartbeatEvery: 100 * time.Millisecond,
		RestoreRoots: []string{root}, Instances: []Instance{{Name: "SQLVM1", Conn: sa}}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a.Register(env)
	(&control.Control{Vault: repo}).Register(env)
	return &unitWorld{unitSim: &unitSim{agent: a, inst: inst, env: env, sa: sa}, repo: repo, keys: ring, root: root}
}

// backup runs PrepareBackup, StreamBackup and CommitRecoveryPoint as the Backup workflow does.
func (w *unitWorld) backup(t *testing.T, db string, typ protocol.BackupType, at time.Time) (protocol.StreamBackupResult, protocol.RecoveryPoint) {
	t.Helper()
	var prep protocol.PrepareBackupResult
	require.NoError(t, w.run(t, &prep, protocol.ActivityPrepareBackup, protocol.PrepareBackupInput{Instance: "SQLVM1", Database: db, Type: typ}))
	point := vault.NewPointID(at, typ.Kind(), "")
	var stream protocol.StreamBackupResult
	require.NoError(t, w.run(t, &stream, protocol.ActivityStreamBackup, protocol.StreamBackupInput{Instance: "SQLVM1", Database: prep.Database,
		Type: typ, ItemID: prep.ItemID, PointID: point, Stripes: prep.Stripes, Compression: true}))
	var rp protocol.RecoveryPoint
	require.NoError(t, w.run(t, &rp, protocol.ActivityCommitRecoveryPoint, protocol.CommitInput{ItemID: prep.ItemID, PointID: point,
		VM: "SQLVM1", Instance: "SQLVM1", ServerName: prep.ServerName, Database: prep.Database, Type: typ, Stream: stream,
		WorkflowID: "unit", RunID: "unit", CreatedAt: at}))
	return stream, rp
}

// A full and a log backup stream through the endpoint into the vault as recovery points;
// the chain restores under a new name step by step and comes online; verify-restore into a
// scratch copy checks and drops it; and the chain is written as files with a script.
func TestBackupAndRestoreUnitThroughTheAgentsActivities(t *testing.T) {
	w := newUnitWorld(t)
	w.create(t, sqlsim.DatabaseSpec{Name: "Sales", DataPages: 64, Seed: 7})
	t0 := time.Now().UTC().Truncate(time.Second)

	fullStream, full := w.backup(t, "Sales", protocol.Full, t0)
	assert.Equal(t, "D", fullStream.BackupSet.Type)
	assert.NotEmpty(t, fullStream.Stripes)
	assert.Equal(t, fullStream.Stripes[0].Blob, vault.DataBlob(full.ItemID, full.PointID, 1, 1), "stripes land under the point in the vault")
	assert.Equal(t, protocol.Full, full.Type)
	assert.Greater(t, full.StoredBytes, int64(0))

	logStream, lg := w.backup(t, "Sales", protocol.Log, t0.Add(15*time.Minute))
	assert.Equal(t, "L", logStream.BackupSet.Type)
	points, err := w.repo.ListPoints(t.Context(), full.ItemID)
	require.NoError(t, err)
	assert.Len(t, points, 2)

	var plan protocol.RestorePlan
	require.NoError(t, w.run(t, &plan, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: lg.PointID}))
	require.Len(t, plan.Steps, 2)
	assert.Equal(t, []string{full.PointID, lg.PointID}, []string{plan.Steps[0].PointID, plan.Steps[1].PointID})

	// Restore under a new name.
	var prep protocol.PrepareRestoreResult
	require.NoError(t, w.run(t, &prep, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy"}))
	assert.False(t, prep.TargetExists)
	for i, step := range plan.Steps {
		var sr protocol.RestoreStepResult
		require.NoError(t, w.run(t, &sr, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy",
			ItemID: plan.ItemID, Step: step, Index: i, Relocate: true}), "step %d", i)
		assert.False(t, sr.AlreadyApplied)
	}
	// The last step again (a restore resumed after a crash) is recognised as applied, not
	// restored twice.
	var again protocol.RestoreStepResult
	require.NoError(t, w.run(t, &again, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy",
		ItemID: plan.ItemID, Step: plan.Steps[1], Index: 1, Relocate: true}))
	assert.True(t, again.AlreadyApplied)
	var state string
	require.NoError(t, w.run(t, &state, protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy"}))
	assert.Equal(t, "ONLINE", state)

	_, ok := w.inst.Database("Sales_copy")
	assert.True(t, ok)

	// Verify-restore: into the scratch copy, CHECKDB, drop.
	scratch := protocol.VerifyScratchName("Sales", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	for i, step := range plan.Steps {
		require.NoError(t, w.run(t, nil, protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: scratch,
			ItemID: plan.ItemID, Step: step, Index: i, Relocate: true}))
	}
	require.NoError(t, w.run(t, &state, protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "SQLVM1", TargetDatabase: scratch}))
	var v protocol.VerifyDatabaseResult
	require.NoError(t, w.run(t, &v, protocol.ActivityVerifyDatabase, protocol.VerifyDatabaseInput{TargetInstance: "SQLVM1", Database: scratch, Drop: true}))
	assert.True(t, v.OK, v.Message)
	_, ok = w.inst.Database(scratch)
	assert.False(t, ok, "the scratch copy is dropped")

	// As files: the chain's backups decrypted on disk, and a script that restores them.
	dir := filepath.Join(w.root, "sales-files")
	var files protocol.RestoreAsFilesResult
	require.NoError(t, w.run(t, &files, protocol.ActivityRestoreAsFiles, protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1",
		TargetDatabase: "Sales_files", Dir: dir, Plan: plan, Relocate: true}))
	require.Len(t, files.Files, len(fullStream.Stripes)+len(logStream.Stripes))
	var total int64
	for _, f := range files.Files {
		fi, err := os.Stat(f)
		require.NoError(t, err, f)
		total += fi.Size()
		assert.True(t, strings.HasPrefix(f, dir), f)
	}
	assert.Equal(t, total, files.Bytes)
	script, err := os.ReadFile(files.Script)
	require.NoError(t, err)
	assert.Contains(t, string(script), "RESTORE DATABASE [Sales_files]")
	assert.Contains(t, string(script), "RESTORE LOG [Sales_files]")
	_, ok = w.inst.Database("Sales_files")
	assert.False(t, ok, "nothing is restored")
}
