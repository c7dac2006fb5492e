package agent

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
)

// vaultFor is the repository one step works through: with a grant (minted by the control
// side for this step: package grant), a store that reaches the step's own blobs only; without
// one (a workflow started before grants, or a control side that cannot mint), the agent's
// own vault credential, if it holds one (agent.vaultAccess: credential).
func (a *Agent) vaultFor(ctx context.Context, g *protocol.VaultGrant, op, itemID string, pointIDs []string) (*vault.Repository, error) {
	if g == nil {
		if a.Vault == nil {
			return nil, protocol.UserError(protocol.ErrVaultGrant,
				"this agent holds no vault credential (agent.vaultAccess: grant) and the workflow passed no storage grant for %s of %s: it was started before grants existed (start it again), or the control worker cannot mint grants (give it the vault's account key — vault.auth sharedKey or connectionString — and key.file)",
				op, itemID)
		}
		return a.Vault, nil
	}
	key, err := a.Keys.Key(ctx, g.KeyID)
	if errors.Is(err, keys.ErrDataKeyOutOfScope) && a.Vault != nil {
		// An agent with its own VM's KEK (key.scope: vm) does not hold the fleet key the
		// control side sealed the grant with; it holds a vault credential, which reaches
		// the step's blobs as well, and the catalog stays authenticated with its own keys.
		a.logger().Debug("storage grant sealed with a key outside this VM's scope: using the agent's own vault credential",
			zap.String("op", op), zap.String("item", itemID), zap.String("grantKey", g.KeyID))
		return a.Vault, nil
	}
	if err != nil {
		return nil, keyError(err, "open the storage grant of "+op+" of "+itemID)
	}
	opened, err := grant.Open(key, g, op, itemID, pointIDs, time.Now())
	if err != nil {
		if errors.Is(err, grant.ErrExpired) {
			return nil, protocol.UserError(protocol.ErrVaultGrantExpired, "%v", err)
		}
		return nil, protocol.UserError(protocol.ErrVaultGrant, "%v", err)
	}
	s, err := opened.Store(ctx)
	if err != nil {
		return nil, protocol.UserError(protocol.ErrVaultGrant, "%v", err)
	}
	var store vault.Store = s
	if a.WrapStore != nil {
		store = a.WrapStore(store)
	}
	// The agent's keys authenticate what it reads through the grant, as through its own
	// credential.
	return vault.NewRepository(store, a.logger()).WithKeys(a.Keys), nil
}

// GrantOnly reports whether the agent holds no vault credential of its own: every step's
// storage access then comes from its grant.
func (a *Agent) GrantOnly() bool { return a.Vault == nil }
