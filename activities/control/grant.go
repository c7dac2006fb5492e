package control

import (
	"context"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
)

// MintVaultGrant mints the storage grant of one agent step (package grant): for a backup,
// create/write/read on the point's own stripes of every attempt; for a restore, read on the
// points' manifests and stripes. It returns nil when this worker cannot mint (no key or no
// account key): the agent then uses its own credential, or, holding none, refuses by name.
func (c *Control) MintVaultGrant(ctx context.Context, in protocol.MintGrantInput) (*protocol.VaultGrant, error) {
	if c.Grants == nil {
		return nil, nil
	}
	if !vault.ValidItemID(in.ItemID) || len(in.PointIDs) == 0 {
		return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: item %q with %d points is not a step's", in.ItemID, len(in.PointIDs))
	}
	for _, p := range in.PointIDs {
		if _, _, err := vault.ParsePointID(p); err != nil {
			return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: %v", err)
		}
	}
	var blobs []string
	switch in.Op {
	case protocol.GrantBackup:
		if len(in.PointIDs) != 1 || in.Stripes < 1 || in.Attempts < 1 {
			return nil, protocol.UserError(protocol.ErrInvalidInput,
				"vault grant: a backup grant is for one point with at least one stripe and attempt (got %d points, %d stripes, %d attempts)",
				len(in.PointIDs), in.Stripes, in.Attempts)
		}
		blobs = grant.BackupBlobs(in.ItemID, in.PointIDs[0], in.Stripes, in.Attempts)
	case protocol.GrantRestore:
		for _, p := range in.PointIDs {
			m, err := c.Vault.Manifest(ctx, in.ItemID, p)
			if err != nil {
				return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "vault grant: read point %s: %v", p, err)
			}
			blobs = append(blobs, grant.RestoreBlobs(m)...)
		}
	default:
		return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: unknown operation %q", in.Op)
	}
	g, err := c.Grants.Mint(in.Op, in.ItemID, in.PointIDs, blobs, in.Valid)
	if err != nil {
		return nil, protocol.UserError(protocol.ErrInvalidInput, "vault grant: %v", err)
	}
	c.Log.Debug("minted vault grant", zap.String("op", in.Op), zap.String("item", in.ItemID), zap.Int("blobs", len(blobs)))
	return g, nil
}
