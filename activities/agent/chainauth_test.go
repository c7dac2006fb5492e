package agent

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

// The agent's own chain state (for a workflow that passed none) is built from authenticated
// summaries only, as the control side's: a full planted without the key (here the newest,
// an unauthenticated summary) is not what a log or differential continues.
func TestAgentChainStateUsesOnlyAuthenticatedSummaries(t *testing.T) {
	store := vault.NewMemStore()
	keys := vaulttest.Keys()
	a := &Agent{Vault: vault.NewRepository(store, nil).WithKeys(keys)}
	at := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	real := vaulttest.PutSealedPoint(t, store, keys[0], "Sales", vault.BackupFull, at, "37000000001000001", "37000000001000099", "37000000001000037", "0")
	vaulttest.PutPoint(t, store, "Sales", vault.BackupFull, at.Add(time.Hour), "37000000002000001", "37000000002000099", "37000000002000037", "0")
	item := vault.ItemID("SQLVM1", "Sales")

	s, _, err := a.chainState(context.Background(), protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Sales"}, item)
	require.NoError(t, err)
	assert.Equal(t, real, s.NewestFullID, "the unauthenticated newer full is left out")
}
