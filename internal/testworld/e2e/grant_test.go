package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/activities/control"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
	"github.com/sqlvault/sqlvault/workflows"
)

// An agent with no storage credential of its own (agent.vaultAccess: grant) backs up and
// restores through the grants the control side mints per step (blob SAS tokens for that
// step's blobs, sealed with the vault key), and no token reaches workflow history or the
// logs: the history holds the sealed grant only.
func TestAgentWithoutVaultCredentialBacksUpAndRestoresThroughGrants(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	signer, err := azstore.New(context.Background(), azstore.Config{ConnectionString: s.azurite.ConnectionString, Container: s.container})
	require.NoError(t, err)
	cw := worker.New(s.tc, s.controlQueue(), worker.Options{})
	workflows.Register(cw)
	(&control.Control{Vault: s.repo, Log: s.log, Temporal: s.tc, ControlQueue: s.controlQueue(),
		Now:    func() time.Time { return s.clock.Now().Add(s.nowOffset) },
		Grants: &grant.Minter{Signer: signer, Key: s.key}}).Register(cw)
	require.NoError(t, cw.Start())
	t.Cleanup(cw.Stop)

	a := s.newAgent(s.inst, vm, s.agentVM(), func(o *agent.Options) { o.Vault = nil })
	require.True(t, a.GrantOnly(), "the agent holds no vault credential")
	aw := a.NewWorker(s.tc, agentWorkerOptions())
	require.NoError(t, aw.Start())
	t.Cleanup(func() { aw.Stop(); a.Close() })

	src, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Least", DataPages: 512})
	require.NoError(t, err)
	_, err = src.Write(20)
	require.NoError(t, err)
	var ids [][2]string
	full := s.start(s.backupInput("Least", protocol.Full))
	var fr protocol.BackupResult
	require.NoError(t, full.Get(context.Background(), &fr))
	ids = append(ids, [2]string{full.GetID(), full.GetRunID()})
	s.clock.Advance(time.Minute)
	_, err = src.Write(10)
	require.NoError(t, err)
	lg := s.start(s.backupInput("Least", protocol.Log))
	var lr protocol.BackupResult
	require.NoError(t, lg.Get(context.Background(), &lr))
	ids = append(ids, [2]string{lg.GetID(), lg.GetRunID()})

	rr := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Least", PointID: lr.RecoveryPoint.PointID, TargetDatabase: "Least_copy"})
	var res protocol.RestoreResult
	require.NoError(t, rr.Get(context.Background(), &res))
	ids = append(ids, [2]string{rr.GetID(), rr.GetRunID()})
	assert.Equal(t, "ONLINE", res.State)
	want, err := src.DigestAtLSN(lr.RecoveryPoint.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Least_copy").Digest(), "the copy is the source at the log's end")

	fr2 := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Least", PointID: lr.RecoveryPoint.PointID, AsFilesDir: t.TempDir()})
	var files protocol.RestoreResult
	require.NoError(t, fr2.Get(context.Background(), &files))
	ids = append(ids, [2]string{fr2.GetID(), fr2.GetRunID()})
	require.NotNil(t, files.Files)
	require.Len(t, files.Files.Files, 2, "the full's and the log's stripes, written through the plan's grant")
	for _, f := range files.Files.Files {
		st, err := os.Stat(f)
		require.NoError(t, err)
		assert.Positive(t, st.Size(), f)
	}

	s.record("backup-full-vault-grant", s.history(full.GetID(), full.GetRunID()))
	s.record("restore-vault-grant", s.history(rr.GetID(), rr.GetRunID()))
	s.record("restore-as-files-vault-grant", s.history(fr2.GetID(), fr2.GetRunID()))

	secrets := map[string]string{
		"SAS signature":      "sig=",
		"SAS resource":       "sr=b",
		"SAS version":        "sv=",
		"storage key":        testenv.AzuriteKey,
		"storage key prefix": "AccountKey=",
	}
	for _, id := range ids {
		h := string(historyJSON(t, s.history(id[0], id[1])))
		assert.Contains(t, h, protocol.ActivityMintVaultGrant, "%s: the control side minted its grants", id[0])
		assert.Empty(t, secretsIn(h, secrets), "secrets in the history of %s", id[0])
	}
	logs := s.logText()
	require.NotEmpty(t, logs)
	assert.Empty(t, secretsIn(logs, secrets), "secrets in the logs")
	assert.False(t, strings.Contains(logs, "VaultGrantRefused"), "no step was refused its grant")
}

// A fleet agent without a vault credential after `key rotate`: it cannot read the keyring,
// so the control side hands each step the keyring records it needs with its grant. Its
// backups are sealed with the fleet's new active key (not its key file's, retired by the
// rotation), and a restore of them, and of a point sealed before the rotation, is exact.
func TestAgentWithoutVaultCredentialSealsWithTheRotatedFleetKey(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	fleet, err := keys.FromConfig(config.Key{File: s.keyFile}, s.repo) // as worker/run.go builds the control side's
	require.NoError(t, err)
	signer, err := azstore.New(ctx, azstore.Config{ConnectionString: s.azurite.ConnectionString, Container: s.container})
	require.NoError(t, err)
	cw := worker.New(s.tc, s.controlQueue(), worker.Options{})
	workflows.Register(cw)
	(&control.Control{Vault: s.repo.WithKeys(fleet), Log: s.log, Temporal: s.tc, ControlQueue: s.controlQueue(),
		Now:         func() time.Time { return s.clock.Now().Add(s.nowOffset) },
		Grants:      &grant.Minter{Signer: signer, Key: s.key},
		KeyDelivery: fleet}).Register(cw)
	require.NoError(t, cw.Start())
	t.Cleanup(cw.Stop)

	agentRing, err := keys.FromConfig(config.Key{File: s.keyFile}, nil) // as agentKeys builds a grant-only agent's
	require.NoError(t, err)
	a := s.newAgent(s.inst, vm, s.agentVM(), func(o *agent.Options) { o.Vault, o.Key, o.Keys = nil, nil, agentRing })
	require.True(t, a.GrantOnly())
	aw := a.NewWorker(s.tc, agentWorkerOptions())
	require.NoError(t, aw.Start())
	t.Cleanup(func() { aw.Stop(); a.Close() })

	src, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Rotated", DataPages: 256})
	require.NoError(t, err)
	_, err = src.Write(20)
	require.NoError(t, err)
	full := s.start(s.backupInput("Rotated", protocol.Full))
	var fr protocol.BackupResult
	require.NoError(t, full.Get(ctx, &fr))
	rec, err := fleet.Rotate(ctx, fleet.LocalFiles()...)
	require.NoError(t, err)
	require.NotEqual(t, s.key.ID(), rec.ID)

	s.clock.Advance(time.Minute)
	_, err = src.Write(10)
	require.NoError(t, err)
	lg := s.start(s.backupInput("Rotated", protocol.Log))
	var lr protocol.BackupResult
	require.NoError(t, lg.Get(ctx, &lr))
	keyOf := func(point string) string {
		m, err := s.repo.WithKeys(fleet).Manifest(ctx, fr.RecoveryPoint.ItemID, point)
		require.NoError(t, err)
		return m.Encryption.KeyID
	}
	assert.Equal(t, s.key.ID(), keyOf(fr.RecoveryPoint.PointID), "the full, before the rotation: the key file's")
	assert.Equal(t, rec.ID, keyOf(lr.RecoveryPoint.PointID), "the log, after it: the fleet's new active key, handed with the grant")

	rr := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Rotated", PointID: lr.RecoveryPoint.PointID, TargetDatabase: "Rotated_copy"})
	var res protocol.RestoreResult
	require.NoError(t, rr.Get(ctx, &res))
	want, err := src.DigestAtLSN(lr.RecoveryPoint.LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Rotated_copy").Digest(), "a chain across both keys restores exactly")
}
