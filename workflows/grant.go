package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// agentGrantVersion: the agent's vault access for a backup stream, a restore step and a
// restore as files comes from a grant the control side mints just before the step
// (ActivityMintVaultGrant): blob-scoped SAS tokens for that step's blobs only, sealed with
// the vault key, so history holds ciphertext. Runs before it pass no grant, and the agent
// uses its own credential.
const agentGrantVersion = "agent-vault-grant"

// vmDataKeysVersion: the grant request names the VM whose agent runs the step, so the
// control side can deliver the data keys the step needs to a VM whose agent holds its own
// KEK (key.scope: vm). Runs before it name none, and such an agent uses the keys it opens
// itself.
const vmDataKeysVersion = "vm-data-keys"

// grantTimeout bounds one attempt of minting (local signing, and for a restore one manifest
// read per point).
const grantTimeout = 2 * time.Minute

// mintGrant returns the grant for one agent step on VM vm whose activity may run for up to
// stepBound (its ScheduleToClose), or nil in a run from before grants, or when the control side cannot
// mint (the agent then uses its own credential, or refuses by name).
func mintGrant(ctx workflow.Context, in protocol.MintGrantInput, vm string, stepBound time.Duration) (*protocol.VaultGrant, error) {
	if workflow.GetVersion(ctx, agentGrantVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil, nil
	}
	if workflow.GetVersion(ctx, vmDataKeysVersion, workflow.DefaultVersion, 1) == 1 {
		in.VM = vm
	}
	in.Valid = stepBound + protocol.GrantMargin
	actx := controlStepCtx(ctx, grantTimeout, 20, protocol.UserErrors)
	var g *protocol.VaultGrant
	if err := workflow.ExecuteActivity(actx, protocol.ActivityMintVaultGrant, in).Get(ctx, &g); err != nil {
		return nil, err
	}
	return g, nil
}
