package keys

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// An agent holding the fleet KEK but no vault credential (agent.vaultAccess: grant) knows
// only the key file's key. After `key rotate` the control side hands each step the keyring
// records it needs: the agent seals with the fleet's new active key and opens points of the
// old one, checking every record as if it had read it; an altered or VM-scoped record is
// refused by name, and without records it keeps to its key file.
func TestAFleetAgentWithoutTheKeyringTakesHandedRecords(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld()
	path, fileKey := keyFile(t, "vault.key")
	control, err := FromConfig(config.Key{File: path}, w.repo)
	require.NoError(t, err)
	before, _ := w.backup(t, control)
	assert.Equal(t, fileKey.ID(), before.Encryption.KeyID)
	first, err := control.Rotate(ctx)
	require.NoError(t, err)
	mid, midPlain := w.backup(t, control)
	assert.Equal(t, first.ID, mid.Encryption.KeyID)
	rec, err := control.Rotate(ctx) // the fleet's active key now; first is retired
	require.NoError(t, err)
	_, err = control.RotateVM(ctx, "sqlvm9", openFileKEK(t, "vm9.key"))
	require.NoError(t, err)

	agent, err := FromConfig(config.Key{File: path}, nil) // no repository: no keyring
	require.NoError(t, err)
	k, err := agent.Active(ctx)
	require.NoError(t, err)
	assert.Equal(t, fileKey.ID(), k.ID(), "without records: its key file")

	handed, err := control.FleetRecords(ctx, []string{first.ID, fileKey.ID()})
	require.NoError(t, err)
	assert.Equal(t, rec.ID, handed.Active)
	assert.Len(t, handed.Records, 2, "the active key's record and the asked one's; not the key file (the agent holds it), no VM's")
	src, err := agent.AcceptRecords(ctx, handed)
	require.NoError(t, err)
	k, err = src.Active(ctx)
	require.NoError(t, err)
	assert.Equal(t, rec.ID, k.ID(), "it seals with the fleet's new active key")
	after, plain := w.backup(t, src)
	assert.Equal(t, rec.ID, after.Encryption.KeyID)
	w.mustRestore(t, src, after, plain)
	w.mustRestore(t, src, mid, midPlain)
	_, err = src.Key(ctx, fileKey.ID())
	require.NoError(t, err)

	// Altered: the active record's wrapping replaced by the retired key's: it unwraps to
	// another key than its id.
	var active, adopted vault.KeyRecord
	for _, raw := range handed.Records {
		var r vault.KeyRecord
		require.NoError(t, json.Unmarshal(raw, &r))
		if r.ID == rec.ID {
			active = r
		} else {
			adopted = r
		}
	}
	forged := active
	forged.Wrapped = adopted.Wrapped
	data, err := json.Marshal(forged)
	require.NoError(t, err)
	fresh, err := FromConfig(config.Key{File: path}, nil)
	require.NoError(t, err)
	_, err = fresh.AcceptRecords(ctx, &protocol.FleetKeyRecords{Active: rec.ID, Records: []json.RawMessage{data}})
	require.ErrorIs(t, err, ErrDataKeyMismatch)

	// A VM's record handed as a fleet record is refused.
	recs, err := w.repo.ListKeyRecords(ctx, nil)
	require.NoError(t, err)
	for _, r := range recs {
		if r.Scope == "" {
			continue
		}
		data, err := json.Marshal(r)
		require.NoError(t, err)
		_, err = fresh.AcceptRecords(ctx, &protocol.FleetKeyRecords{Records: []json.RawMessage{data}})
		require.ErrorIs(t, err, ErrDeliveryRefused)
	}
}
