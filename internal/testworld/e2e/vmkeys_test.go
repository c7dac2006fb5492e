package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/activities/control"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
	"github.com/sqlvault/sqlvault/workflows"
)

// Per-VM data keys end to end. Two VMs, each agent with a KEK of its own (key.scope: vm):
// A with a vault credential, B with none (agent.vaultAccess: grant). `sqlvault key rotate
// --all-vms` gives each VM a data key (from key.vms); their backups are sealed with different
// keys. A restore of B's point onto A from A's own keyring is refused by name (a control side
// that delivers no keys); through the workflow of a control side that delivers the keys each
// step needs, for the target VM alone, it restores exactly, and so does A's point onto B,
// which reads no keyring at all. No data key is in clear in any history.
func TestPerVMKeysEachVMSealsWithItsOwnAndRestoresAcrossVMsThroughTheWorkflow(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	vmA, vmB := s.agentVM(), "SQLVM2-"+s.container
	dir := t.TempDir()
	kekFile := func(name string) string {
		p := filepath.Join(dir, name)
		_, err := blockcrypt.GenerateKeyFile(p)
		require.NoError(t, err)
		return p
	}
	kekA, kekB := kekFile("a.key"), kekFile("b.key")

	// The operator's CLI knows each VM's KEK (key.vms) and rotates their keys.
	cfgPath := filepath.Join(dir, "sqlvault.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf("key:\n  vms:\n    %s: {file: %s}\n    %s: {file: %s}\n",
		strings.ToLower(vmA), kekA, strings.ToLower(vmB), kekB)), 0o600))
	out, err := s.sqlvaultCLI("key", "rotate", "--all-vms", "--config", cfgPath)
	require.NoError(t, err, out)
	assert.Contains(t, out, "is now VM "+strings.ToLower(vmA)+"'s active key")
	assert.Contains(t, out, "is now VM "+strings.ToLower(vmB)+"'s active key")

	// The control worker as worker/run.go builds it: the fleet's keyring delivers keys and
	// the store (account key) signs grants.
	store := s.repo.Store()
	fleet, err := keys.FromConfig(config.Key{File: s.keyFile}, vault.NewRepository(store, s.log))
	require.NoError(t, err)
	signer, err := azstore.New(ctx, azstore.Config{ConnectionString: s.azurite.ConnectionString, Container: s.container})
	require.NoError(t, err)
	startControl := func(deliver bool) func() {
		w := worker.New(s.tc, s.controlQueue(), worker.Options{})
		workflows.Register(w)
		c := &control.Control{Vault: s.repo, Log: s.log, Temporal: s.tc, ControlQueue: s.controlQueue(),
			Now:    func() time.Time { return s.clock.Now().Add(s.nowOffset) },
			Grants: &grant.Minter{Signer: signer, Key: s.key}}
		if deliver {
			c.KeyDelivery = fleet
		}
		c.Register(w)
		require.NoError(t, w.Start())
		return w.Stop
	}
	stop := startControl(true)

	// The agents as the worker builds them from key.scope: vm (keys.ForAgent).
	ringA, err := keys.ForAgent(config.Key{File: kekA, Scope: config.KeyScopeVM}, vmA, vault.NewRepository(store, s.log))
	require.NoError(t, err)
	ringB, err := keys.ForAgent(config.Key{File: kekB, Scope: config.KeyScopeVM}, vmB, nil)
	require.NoError(t, err)
	instB, err := s.sim.StartInstance(sqlsim.InstanceConfig{Machine: "SQLVM2", Logins: []sqlsim.Login{{Name: sqlLogin, Password: sqlPassword, Sysadmin: true}}})
	require.NoError(t, err)
	for _, ag := range []struct {
		inst      *sqlsim.Instance
		name, vm  string
		ring      *keys.Ring
		grantOnly bool
	}{{s.inst, vm, vmA, ringA, false}, {instB, "SQLVM2", vmB, ringB, true}} {
		a := s.newAgent(ag.inst, ag.name, ag.vm, func(o *agent.Options) {
			o.Key, o.Keys, o.Vault = nil, ag.ring, vault.NewRepository(store, s.log)
			if ag.grantOnly {
				o.Vault = nil
			}
		})
		require.Equal(t, ag.grantOnly, a.GrantOnly())
		w := a.NewWorker(s.tc, worker.Options{})
		require.NoError(t, w.Start())
		t.Cleanup(func() { w.Stop(); a.Close() })
	}

	srcA, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Sales", DataPages: 256})
	require.NoError(t, err)
	srcB, err := instB.CreateDatabase(sqlsim.DatabaseSpec{Name: "HR", DataPages: 256})
	require.NoError(t, err)
	for _, db := range []*sqlsim.Database{srcA, srcB} {
		_, err = db.Write(40)
		require.NoError(t, err)
	}
	s.clock.Advance(time.Minute)
	fullA := s.mustBackup(protocol.BackupInput{Instance: vm, Database: "Sales", Type: protocol.Full, VM: vmA})
	fullB := s.mustBackup(protocol.BackupInput{Instance: "SQLVM2", Database: "HR", Type: protocol.Full, VM: vmB})
	s.clock.Advance(time.Minute)
	_, err = srcB.Write(15)
	require.NoError(t, err)
	logB := s.mustBackup(protocol.BackupInput{Instance: "SQLVM2", Database: "HR", Type: protocol.Log, VM: vmB})

	recs, err := s.repo.ListKeyRecords(ctx, nil)
	require.NoError(t, err)
	recA, recB := vault.ActiveKeyRecordOf(recs, strings.ToLower(vmA)), vault.ActiveKeyRecordOf(recs, strings.ToLower(vmB))
	require.NotNil(t, recA)
	require.NotNil(t, recB)
	assert.Equal(t, recA.ID, fullA.KeyID, "A's backup is sealed with A's key")
	assert.Equal(t, recB.ID, fullB.KeyID, "B's backup is sealed with B's key, delivered in its grant")
	assert.Equal(t, recB.ID, logB.KeyID)
	assert.NotEqual(t, fullA.KeyID, fullB.KeyID)

	// A control side that delivers no keys (one from before per-VM keys): A cannot open
	// B's point from its own keyring, and says why.
	stop()
	stop = startControl(false)
	_, err = s.restore(protocol.RestoreInput{Instance: "SQLVM2", Database: "HR", PointID: logB.PointID,
		TargetInstance: vm, TargetVM: vmA, TargetDatabase: "HR_refused"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDataKeyUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "data key "+recB.ID+" belongs to VM "+strings.ToLower(vmB))

	// Through the workflow of a control side that delivers: B's chain onto A, exact.
	stop()
	stop = startControl(true)
	t.Cleanup(stop)
	rr := s.startRestore(protocol.RestoreInput{Instance: "SQLVM2", Database: "HR", PointID: logB.PointID,
		TargetInstance: vm, TargetVM: vmA, TargetDatabase: "HR_onA"})
	var res protocol.RestoreResult
	require.NoError(t, rr.Get(ctx, &res))
	assert.Equal(t, "ONLINE", res.State)
	want, err := srcB.DigestAtLSN(logB.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("HR_onA").Digest(), "B's point restored onto A is B's database at the log's end")

	// A's point onto B, whose agent reads no keyring and holds no credential.
	rb := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Sales", PointID: fullA.PointID,
		TargetInstance: "SQLVM2", TargetVM: vmB, TargetDatabase: "Sales_onB"})
	require.NoError(t, rb.Get(ctx, &res))
	assert.Equal(t, "ONLINE", res.State)
	wantA, err := srcA.DigestAtLSN(fullA.LastLSN)
	require.NoError(t, err)
	onB, ok := instB.Database("Sales_onB")
	require.True(t, ok)
	assert.Equal(t, wantA, onB.Digest())

	// And neither agent holds the other's key afterwards: deliveries are the step's.
	_, err = ringA.Key(ctx, recB.ID)
	require.ErrorIs(t, err, keys.ErrDataKeyOutOfScope)

	// No data key in clear in the restore's history: only the carrier's wrapping and keys
	// sealed with it.
	hist := s.history(rr.GetID(), rr.GetRunID())
	s.record("restore-vm-data-keys", hist)
	h := decodedPayloads(t, historyJSON(t, hist))
	assert.Contains(t, h, `"vm-data-keys"`, "the change's marker")
	assert.Contains(t, h, `"carrierId":"`+recA.ID+`"`, "the keys delivered to A, under A's key")
	assert.Contains(t, h, `"keys":[{"id":"`+recB.ID+`"`, "B's key, sealed for A")
	for _, id := range []string{recA.ID, recB.ID} {
		raw := rawDataKey(t, s, id)
		for _, enc := range []string{base64.StdEncoding.EncodeToString(raw), fmt.Sprintf("%x", raw)} {
			assert.NotContains(t, h, enc, "data key %s in clear in history", id)
		}
	}
	out, err = s.sqlvaultCLI("key", "status", "--config", cfgPath)
	require.NoError(t, err, out)
	assert.Contains(t, out, "active key of VM "+strings.ToLower(vmA))
	assert.Contains(t, out, "vm "+strings.ToLower(vmB))
}

// decodedPayloads is the history's JSON with every payload's data decoded from base64 (as
// the Temporal CLI and the Web UI show it), so a search sees what the payloads hold.
func decodedPayloads(t *testing.T, history []byte) string {
	t.Helper()
	var b strings.Builder
	b.Write(history)
	for _, m := range payloadData.FindAllSubmatch(history, -1) {
		data, err := base64.StdEncoding.DecodeString(string(m[1]))
		require.NoError(t, err)
		b.WriteString("\n")
		b.Write(data)
	}
	return b.String()
}

var payloadData = regexp.MustCompile(`"data":\s*"([A-Za-z0-9+/=]*)"`)

// rawDataKey is data key id's bytes, for the test to look for in history: unwrapped from its
// record with the fleet's KEK file.
func rawDataKey(t *testing.T, s *stack, id string) []byte {
	t.Helper()
	kek, err := keys.OpenFileKEK(s.keyFile)
	require.NoError(t, err)
	rec, err := s.repo.KeyRecord(context.Background(), id)
	require.NoError(t, err)
	raw, err := kek.Unwrap(context.Background(), id, keys.Wrapped{KEK: rec.KEK, Algorithm: rec.Algorithm, Value: rec.Wrapped})
	require.NoError(t, err)
	return raw
}
