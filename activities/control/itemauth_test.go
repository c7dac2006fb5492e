package control

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// forgeItem writes the item's record as someone with write access to the storage account
// and no key can: plain JSON saying what they like (strip: no envelope at all), or the
// envelope kept with its record edited.
func (f *retentionFixture) forgeItem(strip bool, edit func(it *vault.ProtectedItem)) {
	f.t.Helper()
	it, err := f.repo.ItemUnverified(f.ctx, f.item)
	require.NoError(f.t, err)
	edit(it)
	record, err := json.MarshalIndent(it, "", "  ")
	require.NoError(f.t, err)
	name := vault.ItemBlob(f.item)
	data := record
	if !strip {
		var env map[string]json.RawMessage
		stored, err := f.repo.Store().Get(f.ctx, name)
		require.NoError(f.t, err)
		require.NoError(f.t, json.Unmarshal(stored, &env))
		env["record"] = record // keyId and MAC kept
		data, err = json.Marshal(env)
		require.NoError(f.t, err)
	}
	require.NoError(f.t, f.repo.Store().Put(f.ctx, name, data, vault.PutOptions{}))
}

// The attack of issue 16, part 1: the item record edited to say the database was stopped
// with delete long ago, so that retention would delete every point after the soft-delete
// period. Retention refuses by name and deletes nothing; the record stays.
func TestRetentionDeletesNothingOnTheWordOfAnUnauthenticatedItemRecord(t *testing.T) {
	for _, strip := range []bool{true, false} {
		f := newRetentionFixture(t)
		for d := range 3 {
			_, err := f.c.CommitRecoveryPoint(f.ctx, f.stream(protocol.Full, rtStart.Add(time.Duration(d)*time.Hour)))
			require.NoError(t, err)
		}
		before := f.pointIDs()
		require.Len(t, before, 3)
		f.forgeItem(strip, func(it *vault.ProtectedItem) {
			it.State, it.UpdatedAt = vault.ItemStoppedDelete, rtStart.AddDate(-1, 0, 0)
		})
		f.now = rtStart.AddDate(0, 2, 0) // long past any soft-delete period
		for _, dry := range []bool{true, false} {
			rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item, DryRun: dry})
			require.Error(t, err, "strip=%v", strip)
			assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
			assert.True(t, isNonRetryable(err))
			assert.Contains(t, err.Error(), "retention deletes nothing of item "+f.item)
			assert.Empty(t, rr.Deleted)
			assert.False(t, rr.ItemRemoved)
		}
		assert.Equal(t, before, f.pointIDs(), "every point kept (strip=%v)", strip)
		for _, id := range before {
			m, err := f.repo.Manifest(f.ctx, f.item, id)
			require.NoError(t, err)
			_, err = f.repo.Store().Get(f.ctx, m.Stripes[0].Blob)
			assert.NoError(t, err, "its data kept")
		}
		_, err := f.repo.Store().Get(f.ctx, vault.ItemBlob(f.item))
		assert.NoError(t, err, "the record is not removed either")
	}
}

// Every reader that acts on an item record refuses an unauthenticated one by name: the
// protection changes (StopProtection, ResumeProtection), the overwrite check (even with the
// tag the forged record gives), and vault.Item itself; what only adds (a commit to an item
// the record says is protected) still works, and the views flag it.
func TestActorsRefuseAnUnauthenticatedItemRecord(t *testing.T) {
	f := newRetentionFixture(t)
	f.forgeItem(false, func(it *vault.ProtectedItem) { it.Policy = "forever" })
	forged, err := f.repo.ItemUnverified(f.ctx, f.item)
	require.NoError(t, err)
	require.NotEmpty(t, forged.Unauthenticated)

	for _, state := range []string{vault.ItemStoppedDelete, vault.ItemStoppedRetain, vault.ItemProtected} {
		_, err := f.c.SetItemState(f.ctx, protocol.SetItemStateInput{ItemID: f.item, State: state})
		require.Error(t, err, state)
		assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
		assert.Contains(t, err.Error(), "the protection of item "+f.item+" is not changed")
	}
	stored, err := f.repo.Store().Get(f.ctx, vault.ItemBlob(f.item))
	require.NoError(t, err)
	assert.Contains(t, string(stored), `"forever"`, "no state written over the forged record (that would vouch for it)")

	tag := protocol.ProtectionTag(f.item, forged.State, forged.UpdatedAt)
	for _, in := range []protocol.CheckOverwriteInput{
		{TargetInstance: rtInstance, TargetDatabase: rtDatabase, ProtectionTag: tag},
		{TargetInstance: rtInstance, TargetDatabase: rtDatabase},
	} {
		err := f.c.CheckOverwrite(f.ctx, in)
		require.Error(t, err)
		assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	}
	// Found by name, not id (another spelling on a case-insensitive server): refused too.
	err = f.c.CheckOverwrite(f.ctx, protocol.CheckOverwriteInput{TargetInstance: "sqlvm1", TargetDatabase: "SALES", ProtectionTag: tag})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)

	// A record forged to "stopped-delete" makes StopProtection's soft delete look already
	// done; the overwrite check would let anyone overwrite a stopped item — not this one.
	f.forgeItem(true, func(it *vault.ProtectedItem) { it.State = vault.ItemStoppedRetain })
	err = f.c.CheckOverwrite(f.ctx, protocol.CheckOverwriteInput{TargetInstance: rtInstance, TargetDatabase: rtDatabase})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)

	// The commit only adds a point: a legacy record that says protected is taken at its word
	// (a vault not yet upgraded keeps backing up).
	f.forgeItem(true, func(it *vault.ProtectedItem) { it.State = vault.ItemProtected })
	_, err = f.c.CommitRecoveryPoint(f.ctx, f.stream(protocol.Full, rtStart))
	require.NoError(t, err)

	// Configuring protection again writes the record anew, authenticated.
	_, err = f.c.RegisterItems(f.ctx, protocol.RegisterItemsInput{VM: rtInstance, Instance: rtInstance, Policy: "daily",
		Databases: []protocol.DatabaseInfo{{ItemID: f.item, Name: rtDatabase}}})
	require.NoError(t, err)
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, "daily", it.Policy)
}

// A policy edited without the key (retention shortened) is not used: retention under it is
// refused by name and deletes nothing.
func TestRetentionRefusesAnUnauthenticatedPolicy(t *testing.T) {
	f := newRetentionFixture(t)
	require.NoError(t, f.repo.PutPolicy(f.ctx, "daily", []byte(`{"name": "daily", "full": {"frequency": "daily", "timeOfDay": "00:00", "timeZone": "UTC"},
 "retention": {"daily": {"days": 30}}}`)))
	for d := range 3 {
		_, err := f.c.CommitRecoveryPoint(f.ctx, f.stream(protocol.Full, rtStart.AddDate(0, 0, d)))
		require.NoError(t, err)
	}
	before := f.pointIDs()
	require.NoError(t, f.repo.Store().Put(f.ctx, vault.PolicyBlob("daily"), []byte(`{"name": "daily", "full": {"frequency": "daily", "timeOfDay": "00:00", "timeZone": "UTC"},
 "retention": {"daily": {"days": 1}}}`), vault.PutOptions{}))
	f.now = rtStart.AddDate(0, 0, 5)
	_, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), "policy daily is not used")
	assert.Equal(t, before, f.pointIDs())
}

// Chain state (what a scheduled differential or log continues) is built from authenticated
// summaries only: a full planted or stripped of its MAC is not the newest full. An item
// record that is not authenticated bounds nothing, and fails nothing.
func TestBackupChainStateUsesOnlyAuthenticatedSummaries(t *testing.T) {
	f := newRetentionFixture(t)
	full := f.stream(protocol.Full, rtStart)
	_, err := f.c.CommitRecoveryPoint(f.ctx, full)
	require.NoError(t, err)
	newer := f.stream(protocol.Full, rtStart.Add(time.Hour))
	_, err = f.c.CommitRecoveryPoint(f.ctx, newer)
	require.NoError(t, err)
	got, err := f.c.BackupChainState(f.ctx, protocol.ChainStateInput{Instance: rtInstance, Database: rtDatabase})
	require.NoError(t, err)
	assert.Equal(t, newer.PointID, got.NewestFullID)

	f.unseal(newer.PointID)
	got, err = f.c.BackupChainState(f.ctx, protocol.ChainStateInput{Instance: rtInstance, Database: rtDatabase})
	require.NoError(t, err)
	assert.Equal(t, full.PointID, got.NewestFullID, "the unauthenticated full is left out")
	assert.NotContains(t, got.BackupSetGUIDs, newer.Stream.BackupSet.BackupSetGUID)

	f.forgeItem(true, func(it *vault.ProtectedItem) {})
	got, err = f.c.BackupChainState(f.ctx, protocol.ChainStateInput{Instance: rtInstance, Database: rtDatabase})
	require.NoError(t, err)
	assert.Equal(t, full.PointID, got.NewestFullID)
	assert.Zero(t, got.FullMaxAgeMinutes, "no bound from an unauthenticated record")
}

// Discovery protects new databases of an auto-protected instance under the policy its
// record names: a record planted without the key is ignored.
func TestAutoProtectionIgnoresAnUnauthenticatedInstanceRecord(t *testing.T) {
	f := newRetentionFixture(t)
	require.NoError(t, f.repo.PutInstance(f.ctx, &vault.InstanceRecord{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily", AutoProtect: true}))
	require.NoError(t, f.repo.Store().Put(f.ctx, vault.InstanceBlob("SQLVM9"),
		[]byte(`{"schema": "sqlvault.instance/v1", "vm": "SQLVM9", "instance": "SQLVM9", "policy": "forever", "autoProtect": true}`), vault.PutOptions{}))
	got, err := f.c.AutoProtection(f.ctx, protocol.AutoProtectionInput{List: true})
	require.NoError(t, err)
	assert.Equal(t, []protocol.AutoProtectedInstance{{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily"}}, got)
}
