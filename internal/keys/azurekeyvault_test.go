package keys

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/testworld/fakekeyvault"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// The azurekeyvault provider is tested against fakekeyvault, a local HTTPS server that
// answers the REST calls azkeys makes (Key Vault has no emulator).

func azureKEK(t *testing.T, kv *fakekeyvault.Server, name string) (*AzureKEK, *fakekeyvault.Credential) {
	cred := kv.Credential()
	k, err := NewAzureKEK(AzureOptions{VaultURL: kv.URL() + "/", KeyName: name, Credential: cred, ClientOptions: kv.ClientOptions()})
	require.NoError(t, err)
	return k, cred
}

func TestAzureKeyVaultRotateAndRestore(t *testing.T) {
	for _, c := range []struct {
		name, alg string
		create    func(*fakekeyvault.Server, string)
	}{
		{"RSA", AlgRSAOAEP256, (*fakekeyvault.Server).CreateRSAKey},
		{"oct-HSM", AlgA256KW, (*fakekeyvault.Server).CreateOctKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			kv := fakekeyvault.Start()
			defer kv.Close()
			c.create(kv, "sqlvault-kek")
			kek, cred := azureKEK(t, kv, "sqlvault-kek")
			w := newWorld()
			ring := NewRing(w.repo, kek)

			rec, err := ring.Rotate(ctxT(t))
			require.NoError(t, err)
			assert.Equal(t, ProviderAzureKeyVault, rec.Provider)
			assert.Equal(t, c.alg, rec.Algorithm)
			assert.True(t, strings.HasPrefix(rec.KEK, kv.URL()+"/keys/sqlvault-kek/"), "the record names the key version: %s", rec.KEK)
			m, p := w.backup(t, ring)
			assert.Equal(t, rec.ID, m.Encryption.KeyID)

			// An agent: a new process, whose only way to the data key is Key Vault's unwrap.
			agentKEK, _ := azureKEK(t, kv, "sqlvault-kek")
			unwraps := kv.Calls("unwrapkey")
			agent := NewRing(w.repo, agentKEK)
			w.mustRestore(t, agent, m, p)
			w.mustRestore(t, agent, m, p)
			assert.Equal(t, unwraps+1, kv.Calls("unwrapkey"), "one unwrap per data key per process, then memory")
			assert.Contains(t, cred.Scopes(), fakekeyvault.Resource+"/.default", "the token is asked for Key Vault's resource from its challenge")

			st, err := agent.Status(ctxT(t))
			require.NoError(t, err)
			assert.Equal(t, ProviderAzureKeyVault, st.KEK.Provider)
			assert.Empty(t, st.KEK.Error)
			assert.Contains(t, st.KEK.Detail, c.alg)
			require.Len(t, st.Keys, 1)
			assert.Equal(t, 1, st.Keys[0].Points)
			assert.True(t, st.Keys[0].Usable)
		})
	}
}

func TestAzureKeyVaultKEKRotationRewrapsUnderTheNewVersion(t *testing.T) {
	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateRSAKey("kek")
	kek, _ := azureKEK(t, kv, "kek")
	w := newWorld()
	ring := NewRing(w.repo, kek)
	rec, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	m, p := w.backup(t, ring)
	before := w.etags(t)

	v2 := kv.NewVersion("kek") // rotated in Key Vault
	report, err := NewRing(w.repo, kek).RotateKEK(ctxT(t), nil, "")
	require.NoError(t, err)
	require.Len(t, report, 1)
	assert.Equal(t, "rewrapped", report[0].Action)
	assert.Equal(t, rec.KEK, report[0].From)
	assert.Equal(t, kv.URL()+"/keys/kek/"+v2, report[0].To)
	assert.Equal(t, before, w.etags(t), "KEK rotation touches no data, index or manifest blob")
	after, err := w.repo.KeyRecord(ctxT(t), rec.ID)
	require.NoError(t, err)
	assert.Equal(t, report[0].To, after.KEK)
	assert.NotNil(t, after.Rewrapped)
	assert.Equal(t, rec.Created, after.Created)
	w.mustRestore(t, NewRing(w.repo, kek), m, p)
}

func TestAzureKeyVaultRefusalsAreNamed(t *testing.T) {
	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateRSAKey("kek")
	kek, _ := azureKEK(t, kv, "kek")
	w := newWorld()
	ring := NewRing(w.repo, kek)
	rec, err := ring.Rotate(ctxT(t))
	require.NoError(t, err)
	m, _ := w.backup(t, ring)

	check := func(t *testing.T, want ...string) {
		t.Helper()
		// A new process each time: nothing unwrapped in memory yet.
		_, err := w.restore(t, NewRing(w.repo, kek), m)
		require.ErrorIs(t, err, ErrKEKUnavailable)
		msg := err.Error()
		t.Log(msg)
		assert.Contains(t, msg, "provider azurekeyvault")
		assert.Contains(t, msg, "unwrap data key "+rec.ID)
		assert.Contains(t, msg, "What to do:")
		for _, s := range want {
			assert.Contains(t, msg, s)
		}
		assert.NotContains(t, msg, string(rec.Wrapped))
		_, err = NewRing(w.repo, kek).Active(ctxT(t))
		require.ErrorIs(t, err, ErrKEKUnavailable, "a backup is refused the same way")
	}
	t.Run("forbidden", func(t *testing.T) {
		kv.Forbid(true)
		defer kv.Forbid(false)
		check(t, "403 Forbidden/ForbiddenByRbac", "Key Vault Crypto Service Encryption User")
	})
	t.Run("disabled", func(t *testing.T) {
		kv.SetEnabled("kek", false)
		defer kv.SetEnabled("kek", true)
		check(t, "403 Forbidden/KeyDisabled", "enable the key")
		d := kek.Describe(ctxT(t))
		assert.Contains(t, d.Error, "KeyDisabled", "key status shows it too")
	})
	t.Run("deleted", func(t *testing.T) {
		w2 := newWorld()
		kv.CreateRSAKey("doomed")
		k2, _ := azureKEK(t, kv, "doomed")
		r2 := NewRing(w2.repo, k2)
		_, err := r2.Rotate(ctxT(t))
		require.NoError(t, err)
		kv.Delete("doomed")
		_, err = NewRing(w2.repo, k2).Active(ctxT(t))
		require.ErrorIs(t, err, ErrKEKUnavailable)
		assert.Contains(t, err.Error(), "404 KeyNotFound")
		assert.Contains(t, err.Error(), "az keyvault key recover")
	})
	t.Run("unreachable", func(t *testing.T) {
		kv.Close()
		check(t, "Key Vault cannot be reached")
	})
	// Once unwrapped, a data key stays in the process's memory: a running agent rides out
	// a Key Vault outage (the ring above was made before Close).
	_, err = w.restore(t, ring, m)
	require.NoError(t, err)
}

func TestMovingToKeyVaultAdoptsTheOldKeyFile(t *testing.T) {
	w := newWorld()
	path, legacy := keyFile(t, "vault.key")
	fileKEK, err := OpenFileKEK(path)
	require.NoError(t, err)
	m1, p1 := w.backup(t, NewRing(w.repo, fileKEK, fileKEK.DataKey()))

	kv := fakekeyvault.Start()
	defer kv.Close()
	kv.CreateRSAKey("kek")
	kek, _ := azureKEK(t, kv, "kek")
	// The operator configures Key Vault and keeps key.file for the old points: the ring
	// serves them, and key rotate records the old key in the keyring under Key Vault.
	ring := NewRing(w.repo, kek, legacy)
	w.mustRestore(t, ring, m1, p1)
	rec, err := ring.Rotate(ctxT(t), path)
	require.NoError(t, err)
	m2, p2 := w.backup(t, ring)
	assert.Equal(t, rec.ID, m2.Encryption.KeyID)
	adopted, err := w.repo.KeyRecord(ctxT(t), legacy.ID())
	require.NoError(t, err)
	assert.Equal(t, ProviderAzureKeyVault, adopted.Provider)
	assert.Equal(t, vault.KeyRetired, adopted.State)

	// Agents now need no key file at all.
	agentKEK, _ := azureKEK(t, kv, "kek")
	agent := NewRing(w.repo, agentKEK)
	w.mustRestore(t, agent, m1, p1)
	w.mustRestore(t, agent, m2, p2)
}

func TestAzureKeyVaultConfigErrorsSayWhatToSet(t *testing.T) {
	_, err := NewAzureKEK(AzureOptions{VaultURL: "http://plain.example/", KeyName: "k"})
	require.ErrorContains(t, err, "must be an https URL")
	_, err = NewAzureKEK(AzureOptions{VaultURL: "https://v.vault.azure.net/"})
	require.ErrorContains(t, err, "keyName is required")
}
