package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// Someone with write access to the storage account and no key: every test below changes
// what the vault holds the way such a person can (rewrite any blob and its metadata,
// commit any block list of staged or committed blocks, recompute anything but a MAC), and
// checks that every reader refuses by name.

// metadataOf returns blob's metadata as a listing shows it.
func metadataOf(t *testing.T, s Store, blob string) map[string]string {
	t.Helper()
	var md map[string]string
	found := false
	require.NoError(t, s.List(context.Background(), blob, func(b BlobInfo) error {
		if b.Name == blob {
			md, found = b.Metadata, true
		}
		return nil
	}))
	require.True(t, found, blob)
	return md
}

// committedPoint writes a point of stripes stripes (blocks blocks each) and commits it.
func (f *fixture) committedPoint(t *testing.T, at time.Time, typ, suffix string, stripes, blocks int) *Manifest {
	t.Helper()
	p := NewPointID(at, typ, suffix)
	var infos []StripeInfo
	for s := range stripes {
		infos = append(infos, f.writeStripe(t, DataBlob(f.item, p, 1, s), pages(blocks, uint64(s+1)), true))
	}
	m := f.manifest(p, at.Add(time.Minute), infos...)
	require.NoError(t, f.repo.CommitManifest(ctxT(t), m))
	return m
}

// rewriteManifest edits the manifest inside a point's envelope, keeping the envelope's key
// id and MAC (the attacker cannot compute a new one), and with summary set, rewrites the
// summary metadata to match the edit too, keeping its MAC.
func (f *fixture) rewriteManifest(t *testing.T, itemID, pointID string, summary bool, edit func(*Manifest)) {
	t.Helper()
	ctx := context.Background()
	name := ManifestBlob(itemID, pointID)
	data, err := f.store.Get(ctx, name)
	require.NoError(t, err)
	env, err := openEnvelope(data)
	require.NoError(t, err)
	m, err := DecodeManifest(env.Manifest)
	require.NoError(t, err)
	edit(m)
	inner, err := encodeManifest(m)
	require.NoError(t, err)
	env.Manifest = bytes.TrimSpace(inner)
	out, err := json.Marshal(env)
	require.NoError(t, err)
	md := metadataOf(t, f.store, name)
	if summary {
		if s := SummaryMetadata(m); s != nil {
			md[SummaryMetadataKey] = s[SummaryMetadataKey]
		}
	}
	require.NoError(t, f.store.Put(ctx, name, out, PutOptions{Metadata: md}))
}

func summaryAuthOf(t *testing.T, f *fixture, pointID string) Auth {
	t.Helper()
	sums, err := f.repo.ListPointSummaries(ctxT(t), f.item)
	require.NoError(t, err)
	for _, s := range sums {
		if s.PointID == pointID {
			return s.Auth
		}
	}
	t.Fatalf("point %s not listed", pointID)
	return 0
}

func TestTamperedManifestIsRefusedByEveryReader(t *testing.T) {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		edit func(*Manifest)
	}{
		{"LSNs", func(m *Manifest) { m.Backup.LastLSN = "99000000012300001" }},
		{"stripe list", func(m *Manifest) { m.Stripes = m.Stripes[:1] }},
		{"retain-until", func(m *Manifest) { u := at.AddDate(5, 0, 0); m.RetainUntil = &u }},
		{"item id", func(m *Manifest) { m.ItemID = ItemID("VM2", "Other") }},
		{"nothing but the key id", func(m *Manifest) { m.Encryption.KeyID = testKey(t, 2).ID() }},
	} {
		for _, withSummary := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/summary rewritten %v", c.name, withSummary), func(t *testing.T) {
				f := newFixture(t)
				ctx := ctxT(t)
				clock := at
				f.store.SetClock(func() time.Time { return clock })
				m := f.committedPoint(t, at, BackupFull, "tamper", 2, 3)
				other := f.committedPoint(t, at.Add(time.Hour), BackupLog, "intact", 1, 2)
				name := ManifestBlob(f.item, m.PointID)
				before := metadataOf(t, f.store, name)[SummaryMetadataKey]
				f.rewriteManifest(t, f.item, m.PointID, withSummary, c.edit)
				summaryChanged := metadataOf(t, f.store, name)[SummaryMetadataKey] != before

				// Restore's and retention's read.
				_, err := f.repo.Manifest(ctx, f.item, m.PointID)
				require.ErrorIs(t, err, ErrManifestUnauthenticated)
				assert.ErrorIs(t, err, ErrUnauthenticated)
				assert.Contains(t, err.Error(), name, "the error names the object")
				_, _, err = f.repo.ManifestOrLegacy(ctx, f.item, m.PointID)
				assert.ErrorIs(t, err, ErrManifestUnauthenticated, "--allow-unauthenticated is for legacy manifests, not failed ones")

				// Planning's and retention's listing: a summary changed to match is flagged (one
				// the edit did not touch still says what was authenticated), the other point
				// untouched.
				if summaryChanged {
					assert.Equal(t, AuthFailed, summaryAuthOf(t, f, m.PointID))
				} else {
					assert.Equal(t, AuthOK, summaryAuthOf(t, f, m.PointID))
				}
				assert.Equal(t, AuthOK, summaryAuthOf(t, f, other.PointID))

				// The sweep deletes nothing of the point on the tampered manifest's word, even
				// what it no longer references.
				clock = at.Add(72 * time.Hour)
				rep, err := f.repo.Sweep(ctx, clock, time.Hour, false)
				require.NoError(t, err)
				assert.Empty(t, rep.Deleted)
				for _, s := range m.Stripes {
					assert.Contains(t, blobNames(t, f.store), s.Blob)
				}

				// The upgrade does not vouch for it either.
				up, err := f.repo.Upgrade(ctx, UpgradeOptions{})
				require.NoError(t, err)
				assert.Equal(t, 1, up.Count(UpgradeRefused), up.String())
				assert.Equal(t, 1, up.Count(UpgradeAlready), up.String())
			})
		}
	}
}

// Without a summary in the listing (over the metadata limit, or stripped), the summary comes
// from the manifest and carries its verdict.
func TestSummaryFromATamperedManifestIsFlagged(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	m := f.committedPoint(t, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), BackupFull, "nosum", 1, 2)
	f.rewriteManifest(t, f.item, m.PointID, false, func(m *Manifest) { m.Backup.FirstLSN = "1" })
	name := ManifestBlob(f.item, m.PointID)
	data, err := f.store.Get(ctx, name)
	require.NoError(t, err)
	require.NoError(t, f.store.Put(ctx, name, data, PutOptions{})) // metadata gone
	assert.Equal(t, AuthFailed, summaryAuthOf(t, f, m.PointID))
}

func TestSwappedManifestsAreRefused(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	a := f.committedPoint(t, at, BackupLog, "a", 1, 2)
	b := f.committedPoint(t, at.Add(15*time.Minute), BackupLog, "b", 1, 2)
	na, nb := ManifestBlob(f.item, a.PointID), ManifestBlob(f.item, b.PointID)
	da, err := f.store.Get(ctx, na)
	require.NoError(t, err)
	db, err := f.store.Get(ctx, nb)
	require.NoError(t, err)
	mda, mdb := metadataOf(t, f.store, na), metadataOf(t, f.store, nb)
	require.NoError(t, f.store.Put(ctx, na, db, PutOptions{Metadata: mdb}))
	require.NoError(t, f.store.Put(ctx, nb, da, PutOptions{Metadata: mda}))

	for _, p := range []string{a.PointID, b.PointID} {
		_, err := f.repo.Manifest(ctx, f.item, p)
		assert.ErrorIs(t, err, ErrManifestUnauthenticated, p)
	}
	// The summaries name the other point, so the listing refuses to decode them at all.
	_, err = f.repo.ListPointSummaries(ctx, f.item)
	assert.ErrorIs(t, err, ErrInvalidSummary)

	// Swapping only the summaries' metadata (both valid-looking for their own names once
	// the point id is fixed up) fails their MACs.
	require.NoError(t, f.store.Put(ctx, na, da, PutOptions{Metadata: mda}))
	require.NoError(t, f.store.Put(ctx, nb, db, PutOptions{Metadata: mdb}))
	mda[SummaryAuthMetadataKey], mdb[SummaryAuthMetadataKey] = mdb[SummaryAuthMetadataKey], mda[SummaryAuthMetadataKey]
	require.NoError(t, f.store.Put(ctx, na, da, PutOptions{Metadata: mda}))
	assert.Equal(t, AuthFailed, summaryAuthOf(t, f, a.PointID))
}

func TestStrippedEnvelopeIsLegacy(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	m := f.committedPoint(t, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), BackupFull, "strip", 1, 2)
	name := ManifestBlob(f.item, m.PointID)
	data, err := f.store.Get(ctx, name)
	require.NoError(t, err)
	env, err := openEnvelope(data)
	require.NoError(t, err)
	md := metadataOf(t, f.store, name)
	delete(md, SummaryAuthMetadataKey)
	require.NoError(t, f.store.Put(ctx, name, env.Manifest, PutOptions{Metadata: md}))

	_, err = f.repo.Manifest(ctx, f.item, m.PointID)
	require.ErrorIs(t, err, ErrLegacyManifest)
	assert.ErrorIs(t, err, ErrUnauthenticated)
	assert.Contains(t, err.Error(), "sqlvault vault upgrade")
	got, legacy, err := f.repo.ManifestOrLegacy(ctx, f.item, m.PointID)
	require.NoError(t, err)
	assert.True(t, legacy)
	assert.Equal(t, m.PointID, got.PointID)
	assert.Equal(t, AuthLegacy, summaryAuthOf(t, f, m.PointID))
}

// restoreAll is what a restore does with a point, short of SQL Server: read the
// authenticated manifest, open every stripe, stream it. It returns the bytes streamed.
func restoreAll(ctx context.Context, repo *Repository, key *blockcrypt.Key, itemID, pointID string) ([]byte, error) {
	m, err := repo.Manifest(ctx, itemID, pointID)
	if err != nil {
		return nil, err
	}
	var readers []*StripeReader
	for _, s := range m.Stripes {
		sr, err := repo.OpenStripe(ctx, s, key)
		if err != nil {
			return nil, err
		}
		readers = append(readers, sr)
	}
	var out bytes.Buffer
	for _, sr := range readers {
		if _, err := sr.WriteTo(ctx, &out); err != nil {
			return out.Bytes(), err
		}
	}
	return out.Bytes(), nil
}

// TestRewrittenStripeIsRefusedBeforeAnyByte: blocks of a stripe dropped, reordered,
// duplicated or cut off its tail, with the committed block list and the index rewritten to
// match (sizes, totals, and the plaintext digests an old index had, all recomputable;
// the MACs are not), are refused before a byte is streamed — at each layer: the manifest
// pins the index; the index's MAC pins the block list.
func TestRewrittenStripeIsRefusedBeforeAnyByte(t *testing.T) {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		order func(ids []string, extra string) []string // the new block list, from the old one
	}{
		{"drop", func(ids []string, _ string) []string { return append(append([]string{}, ids[:2]...), ids[3:]...) }},
		{"reorder", func(ids []string, _ string) []string {
			return []string{ids[0], ids[2], ids[1], ids[3], ids[4]}
		}},
		{"duplicate", func(ids []string, extra string) []string {
			return append(append(append([]string{}, ids[:3]...), extra), ids[3:]...)
		}},
		{"cut the tail", func(ids []string, _ string) []string { return ids[:3] }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := ctxT(t)
			m := f.committedPoint(t, at, BackupFull, "blocks", 1, 5)
			s := m.Stripes[0]
			full, err := restoreAll(ctx, f.repo, f.key, f.item, m.PointID)
			require.NoError(t, err)
			require.NotEmpty(t, full)

			// The attack on the data blob: block 2's frame staged again under a new id (a
			// duplicate must have its own id), and the new list committed.
			bl, err := f.store.BlockList(ctx, s.Blob)
			require.NoError(t, err)
			frames := map[string][]byte{}
			var off int64
			ids := make([]string, len(bl))
			for i, b := range bl {
				ids[i] = b.ID
				frames[b.ID], err = f.store.ReadRange(ctx, s.Blob, off, b.Size)
				require.NoError(t, err)
				off += b.Size
			}
			extra := vaultBlockID("attacker's copy of block 2")
			require.NoError(t, f.store.StageBlock(ctx, s.Blob, extra, frames[ids[2]]))
			frames[extra] = frames[ids[2]]
			list := c.order(ids, extra)
			require.NoError(t, f.store.CommitBlocks(ctx, s.Blob, list, CommitOptions{}))

			// The index rewritten to match the new list, totals recomputed, MAC kept.
			data, err := f.store.Get(ctx, s.Index)
			require.NoError(t, err)
			var idx stripeIndex
			require.NoError(t, json.Unmarshal(data, &idx))
			byID := map[string]indexBlock{}
			for _, b := range idx.Blocks {
				byID[b.ID] = b
			}
			byID[extra] = indexBlock{ID: extra, Plain: byID[ids[2]].Plain, Stored: byID[ids[2]].Stored}
			idx.Blocks, idx.PlainBytes, idx.StoredBytes = nil, 0, 0
			for _, id := range list {
				idx.Blocks = append(idx.Blocks, byID[id])
				idx.PlainBytes += byID[id].Plain
				idx.StoredBytes += byID[id].Stored
			}
			forged, err := json.Marshal(idx)
			require.NoError(t, err)
			require.NoError(t, f.store.Put(ctx, s.Index, forged, PutOptions{}))

			// 1. The manifest as committed pins the old index.
			got, err := restoreAll(ctx, f.repo, f.key, f.item, m.PointID)
			require.ErrorIs(t, err, ErrUnauthenticated)
			assert.ErrorIs(t, err, ErrIndexMismatch)
			assert.Empty(t, got, "not a byte streamed")

			// 2. The manifest rewritten to pin the forged index: its MAC fails.
			forgedInfo := s
			forgedInfo.IndexSHA256, forgedInfo.Blocks = sha256Hex(forged), len(idx.Blocks)
			forgedInfo.PlainBytes, forgedInfo.StoredBytes = idx.PlainBytes, idx.StoredBytes
			f.rewriteManifest(t, f.item, m.PointID, true, func(m *Manifest) { m.Stripes[0] = forgedInfo })
			got, err = restoreAll(ctx, f.repo, f.key, f.item, m.PointID)
			require.ErrorIs(t, err, ErrManifestUnauthenticated)
			assert.Empty(t, got)

			// 3. And were the manifest not there to pin it, the index's own MAC fails.
			_, err = f.repo.OpenStripe(ctx, forgedInfo, f.key)
			require.ErrorIs(t, err, ErrIndexUnauthenticated)
			assert.ErrorIs(t, err, ErrUnauthenticated)
			assert.Contains(t, err.Error(), s.Blob)
		})
	}
}

// The committed block list changed and the index left alone: refused before a byte.
func TestChangedBlockListIsRefusedBeforeAnyByte(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	m := f.committedPoint(t, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), BackupFull, "list", 1, 4)
	s := m.Stripes[0]
	bl, err := f.store.BlockList(ctx, s.Blob)
	require.NoError(t, err)
	require.NoError(t, f.store.CommitBlocks(ctx, s.Blob, []string{bl[1].ID, bl[0].ID, bl[2].ID, bl[3].ID}, CommitOptions{}))
	got, err := restoreAll(ctx, f.repo, f.key, f.item, m.PointID)
	require.ErrorIs(t, err, ErrBlockListMismatch)
	assert.ErrorIs(t, err, ErrUnauthenticated)
	assert.Empty(t, got)
}

func TestNewIndexHoldsNoPlaintextDigest(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	blocks := pages(4, 9)
	p := NewPointID(time.Now(), BackupFull, "nodigest")
	info := f.writeStripe(t, DataBlob(f.item, p, 1, 2), blocks, true)
	data, err := f.store.Get(ctx, info.Index)
	require.NoError(t, err)
	for _, b := range blocks {
		sum := sha256.Sum256(b)
		assert.NotContains(t, string(data), hex.EncodeToString(sum[:]), "a reader of the storage account cannot confirm a guess of a block")
	}
	assert.NotContains(t, string(data), "sha256")
	var idx stripeIndex
	require.NoError(t, json.Unmarshal(data, &idx))
	assert.Equal(t, IndexSchema, idx.Schema)
	assert.Equal(t, f.item, idx.ItemID)
	assert.Equal(t, p, idx.PointID)
	assert.Equal(t, 2, idx.Stripe)
	assert.Equal(t, idx.MAC, info.Digest, "the manifest records the index's MAC")
	require.NoError(t, verifyIndexMAC(&idx, f.key))
	assert.Error(t, verifyIndexMAC(&idx, testKey(t, 2)), "another key")
	for _, edit := range []func(*stripeIndex){
		func(x *stripeIndex) { x.Stripe = 3 },
		func(x *stripeIndex) { x.PointID = NewPointID(time.Now(), BackupFull, "other") },
		func(x *stripeIndex) { x.Compression = CompressionNone },
		func(x *stripeIndex) { x.Blocks[0].Plain-- },
		func(x *stripeIndex) { x.Blocks[1].ID, x.Blocks[2].ID = x.Blocks[2].ID, x.Blocks[1].ID },
	} {
		c := idx
		c.Blocks = append([]indexBlock(nil), idx.Blocks...)
		edit(&c)
		assert.ErrorIs(t, verifyIndexMAC(&c, f.key), ErrIndexUnauthenticated)
	}
}

func TestCommitNeedsTheKey(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	p := NewPointID(time.Now(), BackupFull, "nokey")
	info := f.writeStripe(t, DataBlob(f.item, p, 1, 0), pages(1, 1), true)
	err := NewRepository(f.store, nil).CommitManifest(ctx, f.manifest(p, time.Now(), info))
	require.ErrorIs(t, err, ErrNoKey)
	_, err = f.store.Get(ctx, ManifestBlob(f.item, p))
	assert.ErrorIs(t, err, ErrNotFound, "no unauthenticated manifest is written")
	err = NewRepository(f.store, nil).WithKeys(Keys{testKey(t, 2)}).CommitManifest(ctx, f.manifest(p, time.Now(), info))
	assert.ErrorIs(t, err, ErrNoKey, "a manifest is authenticated with the key its stripes were sealed with")
}

// The stored manifest is the manifest's JSON byte for byte inside the envelope, readable by
// a person during an incident.
func TestEnvelopeKeepsTheManifestReadable(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	m := f.committedPoint(t, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), BackupFull, "readable", 1, 1)
	data, err := f.store.Get(ctx, ManifestBlob(f.item, m.PointID))
	require.NoError(t, err)
	plain, err := encodeManifest(m)
	require.NoError(t, err)
	assert.Contains(t, string(data), string(bytes.TrimSpace(plain)))
	assert.True(t, strings.HasPrefix(string(data), "{\n  \"schema\": \""+EnvelopeSchema+"\""), string(data[:80]))
}
