package vault

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func keyRecord(id string, created time.Time, state string) *KeyRecord {
	return &KeyRecord{ID: id, Provider: "file", KEK: "file:00000000000000aa", Algorithm: "A256GCM-SQVB",
		Wrapped: []byte{1, 2, 3}, Created: created, State: state}
}

func TestKeyRecordsAreCreatedOnceAndListedOldestFirst(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	require.NoError(t, f.repo.PutKeyRecord(ctx, keyRecord("00000000000000b2", t0.Add(time.Hour), KeyActive), true))
	require.NoError(t, f.repo.PutKeyRecord(ctx, keyRecord("00000000000000b1", t0, KeyActive), true))
	assert.ErrorIs(t, f.repo.PutKeyRecord(ctx, keyRecord("00000000000000b1", t0, KeyRetired), true), ErrExists,
		"a new key never replaces a record")
	assert.ErrorIs(t, f.repo.PutKeyRecord(ctx, keyRecord("not-a-key-id", t0, KeyActive), true), ErrInvalidKeyRecord)
	assert.ErrorIs(t, f.repo.PutKeyRecord(ctx, keyRecord("00000000000000b3", t0, "paused"), true), ErrInvalidKeyRecord)
	// Something else under keys/ is not a record of this layout and is left alone.
	require.NoError(t, f.store.Put(ctx, KeysPrefix+"README.txt", []byte("x"), PutOptions{}))

	cs := &CountingStore{Store: f.store}
	repo := NewRepository(cs, nil)
	var cache KeyRecordCache
	recs, err := repo.ListKeyRecords(ctx, &cache)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, []string{"00000000000000b1", "00000000000000b2"}, []string{recs[0].ID, recs[1].ID})
	assert.Equal(t, "00000000000000b2", ActiveKeyRecord(recs).ID, "the newest active record is the active key")
	assert.Equal(t, int64(2), cs.Gets.Load())

	cs.Reset()
	_, err = repo.ListKeyRecords(ctx, &cache)
	require.NoError(t, err)
	assert.Equal(t, Counts{Lists: 1}, cs.Snapshot(), "unchanged records are not read again")
	r := *recs[1]
	r.State = KeyRetired
	require.NoError(t, f.repo.PutKeyRecord(ctx, &r, false))
	cs.Reset()
	recs, err = repo.ListKeyRecords(ctx, &cache)
	require.NoError(t, err)
	assert.Equal(t, int64(1), cs.Gets.Load(), "a record written since is read again")
	assert.Equal(t, "00000000000000b1", ActiveKeyRecord(recs).ID)
}

func TestListPointKeysFromOneListingAndOldManifests(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	pa, pb := NewPointID(base, BackupFull, "a"), NewPointID(base.Add(time.Hour), BackupFull, "b")
	withKey := f.manifest(pa, base, f.writeStripe(t, DataBlob(f.item, pa, 1, 1), pages(2, 1), false))
	putOld(t, f.store, withKey, SummaryMetadata(withKey))
	old := f.manifest(pb, base.Add(time.Hour), f.writeStripe(t, DataBlob(f.item, pb, 1, 1), pages(2, 2), false))
	old.Encryption.KeyID = "00000000000000c1"
	putOld(t, f.store, old, nil) // written before the key id was listed

	cs := &CountingStore{Store: f.store}
	got, err := NewRepository(cs, nil).ListPointKeys(ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{withKey.PointID: f.key.ID(), old.PointID: "00000000000000c1"}, got)
	assert.Equal(t, int64(1), cs.Lists.Load())
	assert.Equal(t, int64(1), cs.Gets.Load(), "only the manifest without the key id is read")
}
