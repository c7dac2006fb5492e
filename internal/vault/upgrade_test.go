package vault

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// etags maps every blob to its ETag: a write of any blob changes its ETag.
func etags(t *testing.T, s Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, s.List(context.Background(), "", func(b BlobInfo) error { out[b.Name] = b.ETag; return nil }))
	return out
}

// legacyPoint writes a point as a build before authentication did: v1 indexes, a bare
// manifest with an unauthenticated summary.
func (f *fixture) legacyPoint(t *testing.T, at time.Time, typ, suffix string) *Manifest {
	t.Helper()
	p := NewPointID(at, typ, suffix)
	s0 := f.writeV1Stripe(t, DataBlob(f.item, p, 1, 0), pages(3, uint64(at.Unix())), true)
	s1 := f.writeV1Stripe(t, DataBlob(f.item, p, 1, 1), pages(2, uint64(at.Unix()+1)), false)
	m := f.manifest(p, at.Add(time.Minute), s0, s1)
	f.putLegacy(t, m)
	return m
}

func TestUpgradeAuthenticatesLegacyPointsWhoseBlocksVerify(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	good1 := f.legacyPoint(t, at, BackupFull, "good1")
	good2 := f.legacyPoint(t, at.Add(time.Hour), BackupLog, "good2")
	bad := f.legacyPoint(t, at.Add(2*time.Hour), BackupLog, "bad")
	current := f.committedPoint(t, at.Add(3*time.Hour), BackupLog, "current", 1, 2)
	// A byte of one block of the bad point flipped: its tag fails.
	require.NoError(t, f.store.Tamper(bad.Stripes[1].Blob, func(b []byte) []byte { b[len(b)/2] ^= 1; return b }))
	legacyBytes, err := f.store.Get(ctx, ManifestBlob(f.item, good1.PointID))
	require.NoError(t, err)

	for _, m := range []*Manifest{good1, good2, bad} {
		_, err := f.repo.Manifest(ctx, f.item, m.PointID)
		require.ErrorIs(t, err, ErrLegacyManifest, "before: %s", m.PointID)
		assert.Equal(t, AuthLegacy, summaryAuthOf(t, f, m.PointID))
	}

	// A dry run checks everything and writes nothing.
	before := etags(t, f.store)
	rep, err := f.repo.Upgrade(ctx, UpgradeOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Count(UpgradeAuthenticated), rep.String())
	assert.Equal(t, 1, rep.Count(UpgradeRefused), rep.String())
	assert.Equal(t, 1, rep.Count(UpgradeAlready), rep.String())
	assert.Equal(t, before, etags(t, f.store), "a dry run writes nothing")

	var progress []UpgradeEntry
	rep, err = f.repo.Upgrade(ctx, UpgradeOptions{Progress: func(e UpgradeEntry) { progress = append(progress, e) }})
	require.NoError(t, err)
	assert.Equal(t, rep.Entries, progress)
	assert.Equal(t, 2, rep.Count(UpgradeAuthenticated), rep.String())
	require.Equal(t, 1, rep.Count(UpgradeRefused), rep.String())
	for _, e := range rep.Entries {
		if e.Outcome == UpgradeRefused {
			assert.Equal(t, bad.PointID, e.PointID)
			assert.Contains(t, e.Reason, "blocks do not verify")
		}
	}

	for _, m := range []*Manifest{good1, good2} {
		got, err := f.repo.Manifest(ctx, f.item, m.PointID)
		require.NoError(t, err, "after: %s", m.PointID)
		assert.True(t, sameSubstance(got, m))
		assert.Equal(t, AuthOK, summaryAuthOf(t, f, m.PointID))
		out, err := restoreAll(ctx, f.repo, f.key, f.item, m.PointID)
		require.NoError(t, err, "the upgraded point restores (v1 indexes pinned by the authenticated manifest)")
		assert.NotEmpty(t, out)
	}
	_, err = f.repo.Manifest(ctx, f.item, bad.PointID)
	assert.ErrorIs(t, err, ErrLegacyManifest, "the bad point stays legacy")
	_, err = f.repo.Manifest(ctx, f.item, current.PointID)
	assert.NoError(t, err)
	sealed, err := f.store.Get(ctx, ManifestBlob(f.item, good1.PointID))
	require.NoError(t, err)
	assert.Contains(t, string(sealed), string(bytes.TrimSpace(legacyBytes)), "the legacy bytes, unchanged, inside the envelope")

	// Again: nothing to do, nothing written.
	before = etags(t, f.store)
	rep, err = f.repo.Upgrade(ctx, UpgradeOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Count(UpgradeAlready), rep.String())
	assert.Equal(t, 1, rep.Count(UpgradeRefused), rep.String())
	assert.Equal(t, before, etags(t, f.store), "idempotent")
}

// A manifest that changes between the upgrade's listing and its write (retention deleted it,
// or another upgrade wrote it) is neither resurrected nor overwritten.
func TestUpgradeNeverResurrectsADeletedPoint(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	m := f.legacyPoint(t, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), BackupFull, "gone")
	name := ManifestBlob(f.item, m.PointID)
	hs := &deleteBeforePut{Store: f.store, victim: name}
	rep, err := NewRepository(hs, nil).WithKeys(Keys{f.key}).Upgrade(ctx, UpgradeOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Count(UpgradeRefused), rep.String())
	assert.Contains(t, rep.Entries[0].Reason, "changed or deleted while upgrading")
	_, err = f.store.Get(ctx, name)
	assert.ErrorIs(t, err, ErrNotFound, "not resurrected")
}

// deleteBeforePut deletes victim just before the first conditional Put of it.
type deleteBeforePut struct {
	Store
	victim string
	done   bool
}

func (d *deleteBeforePut) Put(ctx context.Context, blob string, data []byte, o PutOptions) error {
	if blob == d.victim && o.IfMatch != "" && !d.done {
		d.done = true
		if err := d.Store.Delete(ctx, blob); err != nil {
			return err
		}
	}
	return d.Store.Put(ctx, blob, data, o)
}

// The sweep deletes nothing of a legacy point on its manifest's word — not even an earlier
// attempt's stripe its manifest does not name — until the point is authenticated.
func TestSweepKeepsLegacyPointsUntilUpgraded(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	f.store.SetClock(func() time.Time { return at })
	m := f.legacyPoint(t, at, BackupFull, "legacy")
	failed := f.writeV1Stripe(t, DataBlob(f.item, m.PointID, 2, 0), pages(1, 77), true) // an attempt nobody names
	now := at.Add(72 * time.Hour)

	rep, err := f.repo.Sweep(ctx, now, time.Hour, false)
	require.NoError(t, err)
	assert.Empty(t, rep.Deleted)
	for _, k := range rep.Kept {
		if k.Name == failed.Blob {
			assert.Equal(t, ReasonUnauthenticated, k.Reason)
		}
	}

	_, err = f.repo.Upgrade(ctx, UpgradeOptions{})
	require.NoError(t, err)
	rep, err = f.repo.Sweep(ctx, now, time.Hour, false)
	require.NoError(t, err)
	var deleted []string
	for _, d := range rep.Deleted {
		deleted = append(deleted, d.Name)
	}
	assert.ElementsMatch(t, []string{failed.Blob, failed.Index}, deleted, "authenticated, its garbage goes")
}
