package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/starter"
)

// sqlvaultCLI runs the sqlvault CLI in-process against the stack's vault (Azurite) with the
// stack's key file (unless args name one), as an operator would with --key-file and a
// connection string.
func (s *stack) sqlvaultCLI(args ...string) (string, error) {
	s.t.Setenv("SQLVAULT_VAULT_CONNECTION_STRING", s.azurite.ConnectionString)
	root := starter.NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	args = append(args, "--vault-auth", config.AuthConnectionString, "--vault-container", s.container)
	if !slices.Contains(args, "--key-file") {
		args = append(args, "--key-file", s.keyFile)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// startAgentWithKeyring runs the stack's agent with the keyring the worker builds from its
// configuration (keys.FromConfig: the key file as KEK and as the key of older points).
func (s *stack) startAgentWithKeyring(keyFile string) {
	ring, err := keys.FromConfig(config.Key{File: keyFile}, s.repo)
	require.NoError(s.t, err)
	a := s.newAgent(s.inst, vm, s.agentVM(), func(o *agent.Options) { o.Key, o.Keys = nil, ring })
	w := a.NewWorker(s.tc, agentWorkerOptions())
	require.NoError(s.t, w.Start())
	s.agentMu.Lock()
	s.agent = &agentRun{w: w, a: a}
	s.agentMu.Unlock()
	s.t.Cleanup(s.stopAgent)
}

// Backup, `sqlvault key rotate`, backup, and a restore whose chain spans both keys: the
// full sealed with the vault's key file, the log with the new data key the running agent
// picked up at its next backup. `sqlvault key status` counts one point per key. Then
// `key rotate --kek` to a new key file, and both restore again with only the new file.
func TestKeyRotateNewPointsUseTheNewKeyAndBothRestore(t *testing.T) {
	s := newStack(t)
	s.startControl()
	s.startAgentWithKeyring(s.keyFile)
	src, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Keyed", DataPages: 256})
	require.NoError(t, err)
	write := func(n int) {
		s.clock.Advance(time.Minute)
		_, err := src.Write(n)
		require.NoError(t, err)
	}
	write(50)
	full := s.mustBackup(s.backupInput("Keyed", protocol.Full))
	assert.Equal(t, s.key.ID(), full.KeyID, "before a rotation the key file seals, as before the keyring")

	out, err := s.sqlvaultCLI("key", "rotate", "--json")
	require.NoError(t, err, out)
	var rec struct{ ID, State, KEK string }
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	assert.Equal(t, vault.KeyActive, rec.State)
	assert.Equal(t, "file:"+s.key.ID(), rec.KEK)

	write(20)
	lg := s.mustBackup(s.backupInput("Keyed", protocol.Log))
	assert.Equal(t, rec.ID, lg.KeyID, "the running agent seals the next backup with the new data key")
	manifests := s.points(vm, "Keyed")
	require.Len(t, manifests, 2)
	assert.Equal(t, []string{s.key.ID(), rec.ID}, []string{manifests[0].Encryption.KeyID, manifests[1].Encryption.KeyID})

	restoreBoth := func(suffix string) {
		for target, p := range map[string]protocol.RecoveryPoint{"Keyed_full" + suffix: full, "Keyed_log" + suffix: lg} {
			res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Keyed", PointID: p.PointID, TargetDatabase: target})
			require.NoError(t, err, "restore %s", p.PointID)
			assert.Equal(t, "ONLINE", res.State)
			want, err := src.DigestAtLSN(p.LastLSN)
			require.NoError(t, err)
			assert.Equal(t, want, s.db(target).Digest(), "restore to %s (%s)", p.PointID, p.Type)
		}
	}
	restoreBoth("")

	out, err = s.sqlvaultCLI("key", "status", "--json")
	require.NoError(t, err, out)
	var st keys.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	assert.Equal(t, rec.ID, st.Active)
	assert.Equal(t, 2, st.Points)
	perKey := map[string]int{}
	for _, k := range st.Keys {
		perKey[k.ID] = k.Points
		assert.True(t, k.Usable, "%s unwraps with the key file: %s", k.ID, k.Error)
	}
	assert.Equal(t, map[string]int{s.key.ID(): 1, rec.ID: 1}, perKey)

	out, err = s.sqlvaultCLI("key", "status")
	require.NoError(t, err, out)
	t.Log("\n" + out)
	assert.Contains(t, out, "active data key  "+rec.ID)
	assert.True(t, strings.Contains(out, s.key.ID()) && strings.Contains(out, "key file"), out)

	// KEK rotation to a new key file: only the keyring's records are rewritten (every other
	// blob in Azurite keeps its ETag), and an agent that has only the new key file restores
	// both points, the old key file's included.
	etags := func() map[string]string {
		m := map[string]string{}
		for _, b := range s.blobs() {
			if !strings.HasPrefix(b.Name, vault.KeysPrefix) {
				m[b.Name] = b.ETag
			}
		}
		return m
	}
	before := etags()
	newKeyFile := filepath.Join(t.TempDir(), "new.key")
	_, err = blockcrypt.GenerateKeyFile(newKeyFile)
	require.NoError(t, err)
	out, err = s.sqlvaultCLI("key", "rotate", "--kek", "--key-file", newKeyFile, "--previous-kek-file", s.keyFile)
	require.NoError(t, err, out)
	assert.Contains(t, out, rec.ID+"  rewrapped")
	assert.Contains(t, out, s.key.ID()+"  adopted")
	assert.Equal(t, before, etags(), "a KEK rotation touches no data, index or manifest blob")
	s.stopAgent()
	s.startAgentWithKeyring(newKeyFile)
	restoreBoth("_newkek")
}
