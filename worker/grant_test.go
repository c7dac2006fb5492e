package worker

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// The control worker mints grants only with both the account key (to sign) and the vault
// key (to seal), and says why when it cannot; neither needs a request to the service.
func TestGrantMinterNeedsTheAccountKeyAndTheVaultKey(t *testing.T) {
	ctx := context.Background()
	keyFile := filepath.Join(t.TempDir(), "vault.key")
	_, err := blockcrypt.GenerateKeyFile(keyFile)
	require.NoError(t, err)
	cfg := config.Default()
	cfg.Key.File = keyFile
	const endpoint = "http://127.0.0.1:1/devstoreaccount1"
	withKey, err := azstore.New(ctx, azstore.Config{AccountURL: endpoint, Container: "vault",
		SharedKey: &azstore.SharedKey{Account: "devstoreaccount1", Key: testenv.AzuriteKey}})
	require.NoError(t, err)
	withSAS, err := azstore.New(ctx, azstore.Config{AccountURL: endpoint, Container: "vault", SASToken: "sv=2024&sig=x"})
	require.NoError(t, err)

	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(core)
	m := GrantMinter(ctx, cfg, withKey, nil, log)
	require.NotNil(t, m)
	assert.Equal(t, endpoint+"/vault", m.Signer.ContainerURL())
	assert.Zero(t, logs.Len())

	assert.Nil(t, GrantMinter(ctx, cfg, withSAS, nil, log), "a SAS cannot sign SAS tokens")
	assert.Contains(t, logs.TakeAll()[0].Message, "cannot sign")

	cfg.Key.File = filepath.Join(t.TempDir(), "missing.key")
	assert.Nil(t, GrantMinter(ctx, cfg, withKey, nil, log))
	assert.Contains(t, logs.TakeAll()[0].Message, "key.file")

	assert.Nil(t, GrantMinter(ctx, cfg, nil, nil, log), "no vault opened: nothing to sign with")
}
