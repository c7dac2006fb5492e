package starter

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// `vault harden` end to end against Azurite: soft delete is turned on with the account key,
// the WORM period is the longest retention of the vault's policies, a second run changes
// nothing, and --dry-run changes nothing either.
func TestVaultHarden(t *testing.T) {
	az := testenv.AzuriteT(t, testenv.AzuriteOptions{})
	container := fmt.Sprintf("harden%d", time.Now().UnixNano()%1e9)
	t.Setenv("SQLVAULT_VAULT_ACCOUNT_URL", az.BlobEndpoint)
	t.Setenv("SQLVAULT_VAULT_CONTAINER", container)
	t.Setenv("SQLVAULT_VAULT_AUTH", "sharedKey")
	t.Setenv("SQLVAULT_VAULT_KEY", az.Key)
	ctx := context.Background()
	st, err := azstore.New(ctx, azstore.Config{AccountURL: az.BlobEndpoint, Container: container, CreateContainer: true,
		SharedKey: &azstore.SharedKey{Account: az.Account, Key: az.Key}})
	require.NoError(t, err)
	// The policies are authenticated; harden reads them with the CLI's key.
	keyFile := filepath.Join(t.TempDir(), "vault.key")
	key, err := blockcrypt.GenerateKeyFile(keyFile)
	require.NoError(t, err)
	t.Setenv("SQLVAULT_KEY_FILE", keyFile)
	repo := vault.NewRepository(st, nil).WithKeys(vault.Keys{key})
	require.NoError(t, repo.PutPolicy(ctx, "gold", []byte(`{"name": "gold", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "monthly": {"months": 3}, "logDays": 15}}`)))
	require.NoError(t, repo.PutPolicy(ctx, "bronze", []byte(`{"name": "bronze", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "retention": {"daily": {"days": 7}}}`)))

	run := func(args ...string) hardenReport {
		t.Helper()
		out, err := runCLI(t, append([]string{"vault", "harden", "--json"}, args...)...)
		require.NoError(t, err, out)
		var rep hardenReport
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		return rep
	}
	dry := run("--dry-run", "--soft-delete-days", "21")
	assert.Equal(t, []string{"blob soft delete: 21 days"}, dry.Applied)
	assert.False(t, dry.After.SoftDelete, "a dry run changes nothing")
	assert.Equal(t, 93, dry.WORMDays, "three monthly points (31 days each) are the longest retention")

	rep := run("--soft-delete-days", "21")
	assert.Equal(t, []string{"blob soft delete: 21 days"}, rep.Applied)
	assert.Equal(t, azstore.Protection{SoftDelete: true, SoftDeleteDays: 21}, rep.After)
	require.Len(t, rep.Manual, 3)
	assert.Contains(t, rep.Manual[2].Command, "--container-name "+container+" --period 93")
	assert.Contains(t, rep.Manual[0].Command, "--account-name "+az.Account)

	again := run("--soft-delete-days", "14")
	assert.Empty(t, again.Applied, "21 days already cover 14: nothing to change")
	assert.Equal(t, rep.After, again.After)

	_, err = runCLI(t, "vault", "harden", "--soft-delete-days", "400")
	assert.ErrorContains(t, err, "Azure allows 1 to 365")

	// A policy that cannot be read: the WORM period cannot be sized, so nothing is changed.
	require.NoError(t, repo.PutPolicy(ctx, "broken", []byte(`{"name": "broken", `)))
	_, err = runCLI(t, "vault", "harden", "--soft-delete-days", "30")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "policy broken cannot be read")
	// Nor one that is not authenticated (written without the key): its retention is not
	// taken on its word.
	require.NoError(t, st.Put(ctx, vault.PoliciesPrefix+"broken.json", []byte(`{"name": "broken", "retention": {"daily": {"days": 1}}}`), vault.PutOptions{}))
	_, err = runCLI(t, "vault", "harden", "--soft-delete-days", "30")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "policy broken: vault: record written before")
	acct, err := azstore.NewAccount(azstore.Config{AccountURL: az.BlobEndpoint, Container: container,
		SharedKey: &azstore.SharedKey{Account: az.Account, Key: az.Key}})
	require.NoError(t, err)
	p, err := acct.Protection(ctx)
	require.NoError(t, err)
	assert.Equal(t, azstore.Protection{SoftDelete: true, SoftDeleteDays: 21}, p, "soft delete left as it was")
}
