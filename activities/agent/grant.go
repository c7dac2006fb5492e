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

// vaultFor is the repository one step works through and the data keys it uses: with a grant
// (minted by the control side for this step: package grant), a store that reaches the step's
// own blobs only; without one (a workflow started before grants, or a control side that
// cannot mint), the agent's own vault credential, if it holds one (agent.vaultAccess:
// credential). The keys are the agent's own, plus, on an agent with its own VM's KEK, those
// the grant delivers (keys.Ring.Accept): another VM's or the fleet's for a restore, and its
// VM's active key for an agent that cannot read the keyring.
func (a *Agent) vaultFor(ctx context.Context, g *protocol.VaultGrant, op, itemID string, pointIDs []string) (*vault.Repository, keys.Source, error) {
	src, delivered, err := a.stepKeys(ctx, g, op, itemID)
	if err != nil {
		return nil, nil, err
	}
	own := func() *vault.Repository {
		if delivered {
			return a.Vault.WithKeys(src)
		}
		return a.Vault
	}
	if g == nil || len(g.Sealed) == 0 {
		if a.Vault == nil {
			return nil, nil, protocol.UserError(protocol.ErrVaultGrant,
				"this agent holds no vault credential (agent.vaultAccess: grant) and the workflow passed no storage grant for %s of %s: it was started before grants existed (start it again), or the control worker cannot mint grants (give it the vault's account key — vault.auth sharedKey or connectionString — and key.file)",
				op, itemID)
		}
		return own(), src, nil
	}
	key, err := src.Key(ctx, g.KeyID)
	if errors.Is(err, keys.ErrDataKeyOutOfScope) && a.Vault != nil {
		// An agent with its own VM's KEK (key.scope: vm) does not hold the fleet key a
		// control side from before per-VM keys sealed the grant with; it holds a vault
		// credential, which reaches the step's blobs as well, and the catalog stays
		// authenticated with its own keys.
		a.logger().Debug("storage grant sealed with a key outside this VM's scope: using the agent's own vault credential",
			zap.String("op", op), zap.String("item", itemID), zap.String("grantKey", g.KeyID))
		return own(), src, nil
	}
	if err != nil {
		return nil, nil, keyError(err, "open the storage grant of "+op+" of "+itemID)
	}
	opened, err := grant.Open(key, g, op, itemID, pointIDs, time.Now())
	if err != nil {
		if errors.Is(err, grant.ErrExpired) {
			return nil, nil, protocol.UserError(protocol.ErrVaultGrantExpired, "%v", err)
		}
		return nil, nil, protocol.UserError(protocol.ErrVaultGrant, "%v", err)
	}
	s, err := opened.Store(ctx)
	if err != nil {
		return nil, nil, protocol.UserError(protocol.ErrVaultGrant, "%v", err)
	}
	var store vault.Store = s
	if a.WrapStore != nil {
		store = a.WrapStore(store)
	}
	// The step's keys authenticate what it reads through the grant, as through the agent's
	// own credential.
	return vault.NewRepository(store, a.logger()).WithKeys(src), src, nil
}

// keyAcceptor is the key source of an agent with its own VM's KEK (keys.Ring from
// keys.NewVMRing): it opens data keys delivered for its VM.
type keyAcceptor interface {
	Scope() string
	Accept(ctx context.Context, d *protocol.DataKeyDelivery) (keys.Source, error)
}

// fleetAcceptor is the key source of a fleet agent (keys.Ring of the fleet KEK): it opens
// keyring records handed to a step.
type fleetAcceptor interface {
	Scope() string
	AcceptRecords(ctx context.Context, d *protocol.FleetKeyRecords) (keys.Source, error)
}

// stepKeys is the data key source of one step: the agent's own, and the keys the grant
// delivers when the agent has its own VM's KEK. An agent holding the fleet KEK opens every
// key itself and ignores a delivery.
func (a *Agent) stepKeys(ctx context.Context, g *protocol.VaultGrant, op, itemID string) (src keys.Source, delivered bool, err error) {
	if fa, ok := a.Keys.(fleetAcceptor); ok && a.Vault == nil && g != nil && g.FleetKeys != nil && fa.Scope() == "" {
		// A fleet agent without a vault credential: the keyring records the step needs
		// came with the grant (an agent that reads the keyring itself ignores them).
		src, err = fa.AcceptRecords(ctx, g.FleetKeys)
		if err != nil {
			return nil, false, keyError(err, "open the keyring records handed for "+op+" of "+itemID)
		}
		return src, false, nil
	}
	acc, ok := a.Keys.(keyAcceptor)
	if g == nil || g.Keys == nil || !ok || acc.Scope() == "" {
		return a.Keys, false, nil
	}
	src, err = acc.Accept(ctx, g.Keys)
	if err != nil {
		return nil, false, keyError(err, "open the data keys delivered for "+op+" of "+itemID)
	}
	return src, true, nil
}

// GrantOnly reports whether the agent holds no vault credential of its own: every step's
// storage access then comes from its grant.
func (a *Agent) GrantOnly() bool { return a.Vault == nil }
