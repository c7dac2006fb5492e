package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// Repository is the vault: layout, stripes, manifests, verification and garbage collection
// over a Store. It holds no state of its own beyond the store and the keys it authenticates
// with (WithKeys), so any number of processes (agents, control workers) can use the same
// container at once.
type Repository struct {
	store Store
	log   *zap.Logger
	keys  Keyring // authenticates the catalog (WithKeys); nil: none
}

// manifestReaders bounds parallel manifest reads when listing points: a log backup every 15
// minutes is ~3000 manifests a month per database, and one at a time is too slow over WAN.
const manifestReaders = 8

// NewRepository wraps a store. log may be nil.
func NewRepository(s Store, log *zap.Logger) *Repository {
	if log == nil {
		log = zap.NewNop()
	}
	return &Repository{store: s, log: log.Named("vault")}
}

// Store returns the underlying store.
func (r *Repository) Store() Store { return r.store }

// FindItem returns the item id of a database; it is ItemID, here so callers that only hold
// a Repository need not know how ids are derived.
func (r *Repository) FindItem(_ context.Context, instance, database string) string {
	return ItemID(instance, database)
}

// VerifyStripes is the cheap commit-time check, with no data read: each stripe's index
// exists with the recorded SHA-256, agrees with the recorded totals and digest and (v2) its
// MAC verifies under the key it names (from the repository's keyring); the data blob is
// committed, its block list matches the index (ids, order and stored sizes), and its size is
// the index's total. The first failure is returned as a *StripeError.
func (r *Repository) VerifyStripes(ctx context.Context, stripes []StripeInfo) error {
	for _, s := range stripes {
		if _, err := r.verifyStripe(ctx, s, nil); err != nil {
			return err
		}
	}
	return nil
}

// verifyStripe is VerifyStripes of one stripe, returning its index. key authenticates a v2
// index; nil: the keyring's key of the id the index names.
func (r *Repository) verifyStripe(ctx context.Context, s StripeInfo, key *blockcrypt.Key) (*stripeIndex, error) {
	data, err := r.store.Get(ctx, s.Index)
	if errors.Is(err, ErrNotFound) {
		return nil, stripeErr(s.Blob, ErrIndexMissing, "%s", s.Index)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read index of %s: %w", s.Blob, err)
	}
	idx, err := checkIndex(s, data, func(id string) (*blockcrypt.Key, error) {
		if key != nil {
			return key, nil // verifyIndexMAC tells a stripe of another key
		}
		return r.key(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	blocks, err := r.store.BlockList(ctx, s.Blob)
	if errors.Is(err, ErrNotFound) {
		return nil, stripeErr(s.Blob, ErrDataNotCommitted, "no committed blob")
	}
	if err != nil {
		return nil, fmt.Errorf("vault: block list of %s: %w", s.Blob, err)
	}
	if len(blocks) != len(idx.Blocks) {
		return nil, stripeErr(s.Blob, ErrBlockListMismatch, "%d committed blocks, index has %d", len(blocks), len(idx.Blocks))
	}
	for i, b := range blocks {
		want := idx.Blocks[i]
		if b.ID != want.ID {
			return nil, stripeErr(s.Blob, ErrBlockListMismatch, "block %d is %s, index says %s", i, b.ID, want.ID)
		}
		if b.Size != want.Stored {
			return nil, stripeErr(s.Blob, ErrBlockListMismatch, "block %d: stored size %d, index says %d", i, b.Size, want.Stored)
		}
	}
	props, err := r.store.Props(ctx, s.Blob)
	if errors.Is(err, ErrNotFound) { // deleted since its block list was read
		return nil, stripeErr(s.Blob, ErrDataNotCommitted, "no committed blob")
	}
	if err != nil {
		return nil, fmt.Errorf("vault: properties of %s: %w", s.Blob, err)
	}
	if props.Size != idx.StoredBytes {
		return nil, stripeErr(s.Blob, ErrSizeMismatch, "blob is %d bytes, index says %d", props.Size, idx.StoredBytes)
	}
	return idx, nil
}

// DeepVerify reads every stripe of m in full and authenticates and decrypts every block,
// after VerifyStripes' structural checks (the index MAC of a v2 stripe among them); for a v1
// stripe it also checks each block's SHA-256 (and so the stripe digest). It needs the key
// the point was written with (ErrWrongKey otherwise).
//
// It is the one reader that still hashes the plaintext of v1 stripes: a restore trusts the
// GCM tag alone (see StripeReader), while DeepVerify checks the writer too — that the
// digests a v1 index records, from which the stripe digest in the manifest is built, are
// those of the bytes it sealed. A v2 index records none.
func (r *Repository) DeepVerify(ctx context.Context, m *Manifest, key *blockcrypt.Key) error {
	if m.Encryption.KeyID != key.ID() {
		return fmt.Errorf("vault: point %s: %w: manifest key id %s, given key id %s", m.PointID, ErrWrongKey, m.Encryption.KeyID, key.ID())
	}
	for _, s := range m.Stripes {
		sr, err := r.OpenStripe(ctx, s, key)
		if err != nil {
			return err
		}
		sr.verifyDigests = sr.idx.Schema == IndexSchemaV1
		n, err := sr.WriteTo(ctx, io.Discard)
		if err != nil {
			return err
		}
		if n != s.PlainBytes {
			return stripeErr(s.Blob, ErrSizeMismatch, "read %d plaintext bytes, recorded %d", n, s.PlainBytes)
		}
	}
	return nil
}

// CommitManifest is the commit confirmation: it touches the stripes (touchStripes), verifies
// them (VerifyStripes) and then creates the manifest blob only if none exists, with the
// point's summary as its metadata (SummaryMetadata, read back by ListPointSummaries). The
// manifest is stored authenticated (EnvelopeSchema) and so is its summary
// (SummaryAuthMetadataKey), under the key of m.Encryption.KeyID from the repository's
// keys: without it nothing is written (ErrNoKey).
//
// Retry safety: if a manifest for the point exists and is equal in substance (SameSubstance:
// everything but createdAt), the call succeeds, so a commit whose write succeeded but whose
// result was lost is not failed by its retry; with different substance it fails with
// ErrExists, because a recovery point, once it exists, never changes.
//
// Safety against the sweep, which lists (with ETags), re-reads the manifest, then deletes
// only if the ETag is unchanged (Store.DeleteIfMatch): the stripes are touched (new ETag and
// Last-Modified) before the checks and again after the manifest write, then verified again.
// A sweep that found no manifest listed before that second touch, so its delete fails; a
// sweep that deleted first makes the touch or the check fail, and the manifest is withdrawn:
// a point exists only with its data. (The first touch also makes a stripe young for a sweep
// that lists it later, so in practice the withdrawal is never needed.)
func (r *Repository) CommitManifest(ctx context.Context, m *Manifest) error {
	if err := m.Validate(); err != nil {
		return err
	}
	key, err := r.key(ctx, m.Encryption.KeyID)
	if err != nil {
		return fmt.Errorf("vault: commit point %s: authenticate its manifest: %w", m.PointID, err)
	}
	if err := r.touchStripes(ctx, m.Stripes); err != nil {
		return fmt.Errorf("vault: commit point %s: %w", m.PointID, err)
	}
	if err := r.VerifyStripes(ctx, m.Stripes); err != nil {
		return fmt.Errorf("vault: commit point %s: %w", m.PointID, err)
	}
	name := ManifestBlob(m.ItemID, m.PointID)
	// The summary rides on the manifest's own Put: the two can never disagree on write.
	data, md, err := SealedManifest(key, m)
	if err != nil {
		return err
	}
	if md == nil {
		r.log.Warn("no summary for this recovery point (over the metadata limit, or it does not read back); listings will read its manifest",
			zap.String("item", m.ItemID), zap.String("point", m.PointID))
	}
	retried := false
	err = r.store.Put(ctx, name, data, PutOptions{IfNoneMatch: true, Metadata: md})
	if errors.Is(err, ErrExists) {
		existing, gerr := r.store.Get(ctx, name)
		if gerr != nil {
			return fmt.Errorf("vault: commit point %s: exists, and reading it failed: %w", m.PointID, gerr)
		}
		// A retry of this commit wrote the same point, authenticated; anything else there
		// (another point, or one that does not authenticate) is not this commit's.
		old, auth, aerr := r.authenticateManifest(ctx, name, existing)
		if aerr != nil || auth != authVerified || !sameSubstance(old, m) {
			return fmt.Errorf("vault: commit point %s: %w with different or unauthenticated content", m.PointID, ErrExists)
		}
		retried = true
	} else if err != nil {
		return fmt.Errorf("vault: commit point %s: %w", m.PointID, err)
	}
	// Touch again, after the write: a sweep that re-checked for this manifest before it was
	// written listed the stripes before this touch, so its conditional delete now fails,
	// whatever the clocks say; one that deleted first makes the touch or the check fail.
	err = r.touchStripes(ctx, m.Stripes)
	if err == nil {
		err = r.VerifyStripes(ctx, m.Stripes)
	}
	if err != nil {
		var se *StripeError
		if !errors.As(err, &se) {
			return fmt.Errorf("vault: commit point %s: re-verify after writing the manifest: %w", m.PointID, err)
		}
		// The data went away while the manifest was written: withdraw the point rather than
		// leave one that exists and cannot be restored.
		if derr := r.store.Delete(ctx, name); derr != nil && !errors.Is(derr, ErrNotFound) {
			r.log.Error("a committed point lost its data and its manifest could not be withdrawn",
				zap.String("item", m.ItemID), zap.String("point", m.PointID), zap.Error(derr))
		}
		return fmt.Errorf("vault: commit point %s: stripes vanished while committing, manifest withdrawn: %w", m.PointID, err)
	}
	if retried {
		r.log.Info("manifest already committed (retry)", zap.String("item", m.ItemID), zap.String("point", m.PointID))
		return nil
	}
	r.log.Info("recovery point committed", zap.String("item", m.ItemID), zap.String("point", m.PointID),
		zap.String("type", m.Backup.Type), zap.Int("stripes", len(m.Stripes)))
	return nil
}

// SealedManifest is what CommitManifest stores for m, authenticated under key: the manifest
// blob's bytes (EnvelopeSchema) and its metadata (the summary and its MAC; nil when the
// summary is not written). For tools that build a vault without taking backups (tests,
// benchmarks); CommitManifest also checks the stripes first.
func SealedManifest(key *blockcrypt.Key, m *Manifest) (data []byte, metadata map[string]string, err error) {
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	if m.Encryption.KeyID != key.ID() {
		return nil, nil, fmt.Errorf("%w: point %s names key %s, not %s", ErrWrongKey, m.PointID, m.Encryption.KeyID, key.ID())
	}
	plain, err := encodeManifest(m)
	if err != nil {
		return nil, nil, err
	}
	return sealManifest(key, ManifestBlob(m.ItemID, m.PointID), plain), authenticatedSummary(key, m), nil
}

// touchStripes writes every stripe's data blob (its own committed block list, committed
// again) and index blob (its own bytes, put again) without changing their content, so each
// gets a new ETag and LastModified: a sweep that listed them earlier cannot delete them
// (DeleteIfMatch), and one that lists them later sees them young.
func (r *Repository) touchStripes(ctx context.Context, stripes []StripeInfo) error {
	for _, s := range stripes {
		data, err := r.store.Get(ctx, s.Index)
		if errors.Is(err, ErrNotFound) {
			return stripeErr(s.Blob, ErrIndexMissing, "%s", s.Index)
		}
		if err != nil {
			return fmt.Errorf("vault: read index of %s: %w", s.Blob, err)
		}
		blocks, err := r.store.BlockList(ctx, s.Blob)
		if errors.Is(err, ErrNotFound) {
			return stripeErr(s.Blob, ErrDataNotCommitted, "no committed blob")
		}
		if err != nil {
			return fmt.Errorf("vault: block list of %s: %w", s.Blob, err)
		}
		ids := make([]string, len(blocks))
		for i, b := range blocks {
			ids[i] = b.ID
		}
		err = r.store.CommitBlocks(ctx, s.Blob, ids, CommitOptions{})
		if errors.Is(err, ErrInvalidBlockList) || errors.Is(err, ErrNotFound) {
			return stripeErr(s.Blob, ErrDataNotCommitted, "deleted while committing")
		}
		if err != nil {
			return fmt.Errorf("vault: touch %s: %w", s.Blob, err)
		}
		if err := r.store.Put(ctx, s.Index, data, PutOptions{}); err != nil {
			return fmt.Errorf("vault: touch %s: %w", s.Index, err)
		}
	}
	return nil
}

// Manifest reads one point's manifest and authenticates it with the repository's keys;
// ErrNotFound if the point does not exist. A manifest that fails authentication
// (ErrManifestUnauthenticated) or has none (ErrLegacyManifest) is refused: both match
// ErrUnauthenticated, wrapped with the blob's name and what to do.
func (r *Repository) Manifest(ctx context.Context, itemID, pointID string) (*Manifest, error) {
	m, _, err := r.readManifest(ctx, itemID, pointID, false)
	return m, err
}

// ManifestOrLegacy is Manifest that also accepts a legacy manifest (written before
// manifests were authenticated), saying so: for a restore the caller explicitly allowed to
// use one (--allow-unauthenticated), for listings, and for `vault upgrade`. A manifest whose
// MAC fails is refused as by Manifest.
func (r *Repository) ManifestOrLegacy(ctx context.Context, itemID, pointID string) (m *Manifest, legacy bool, err error) {
	m, auth, err := r.readManifest(ctx, itemID, pointID, true)
	return m, auth == authLegacy, err
}

// ReadManifest reads a point's manifest for display, authenticated as far as the repository
// can: AuthOK, AuthLegacy, or AuthUnchecked when the repository has no keys (its manifest
// unverified). A manifest whose MAC fails is an error (ErrManifestUnauthenticated), as in
// Manifest. Nothing that restores or deletes may use an AuthUnchecked read.
func (r *Repository) ReadManifest(ctx context.Context, itemID, pointID string) (*Manifest, Auth, error) {
	if r.keys != nil {
		m, auth, err := r.readManifest(ctx, itemID, pointID, true)
		if err != nil {
			return nil, AuthUnchecked, err
		}
		if auth == authLegacy {
			return m, AuthLegacy, nil
		}
		return m, AuthOK, nil
	}
	name := ManifestBlob(itemID, pointID)
	data, err := r.store.Get(ctx, name)
	if err != nil {
		return nil, AuthUnchecked, fmt.Errorf("vault: point %s/%s: %w", itemID, pointID, err)
	}
	m, err := readUnverified(name, data)
	if err != nil {
		return nil, AuthUnchecked, err
	}
	if m.ItemID != itemID || m.PointID != pointID {
		return nil, AuthUnchecked, fmt.Errorf("%w: %s holds point %s/%s", ErrInvalidManifest, name, m.ItemID, m.PointID)
	}
	return m, AuthUnchecked, nil
}

// ListPoints returns an item's recovery points in chronological order: by the time in the
// point id (when the workflow started the backup), then by manifest creation time, then by id.
// Any manifest that cannot be read, validated or authenticated fails the whole call: a
// silently missing point could break a restore chain without anyone noticing. Legacy
// manifests (not yet authenticated) are listed, and without keys nothing is authenticated
// (ReadManifest): ListPoints shows, it does not act.
func (r *Repository) ListPoints(ctx context.Context, itemID string) ([]*Manifest, error) {
	var ids []string
	err := r.store.List(ctx, PointsPrefix(itemID), func(b BlobInfo) error {
		if bn := parseBlobName(b.Name); bn.kind == "manifest" {
			ids = append(ids, bn.pointID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: list points of %s: %w", itemID, err)
	}
	out := make([]*Manifest, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, manifestReaders)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], _, errs[i] = r.ReadManifest(ctx, itemID, id)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return pointLess(out[i], out[j]) })
	return out, nil
}

func pointLess(a, b *Manifest) bool {
	return pointOrder(a.PointID, a.CreatedAt, b.PointID, b.CreatedAt)
}

// pointOrder is the chronological order of points (ListPoints, ListPointSummaries): the
// time in the point id, then creation time, then id.
func pointOrder(idA string, createdA time.Time, idB string, createdB time.Time) bool {
	// The ids' fixed-width UTC time prefixes compare as their times do (no parsing: a
	// listing sorts thousands).
	n := len(pointTimeLayout)
	if len(idA) > n && len(idB) > n {
		if c := strings.Compare(idA[:n], idB[:n]); c != 0 {
			return c < 0
		}
	} else {
		ta, _, _ := ParsePointID(idA)
		tb, _, _ := ParsePointID(idB)
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
	}
	if !createdA.Equal(createdB) {
		return createdA.Before(createdB)
	}
	return idA < idB
}

// ListItems returns the ids of every item with any blob in its folder, sorted. It is one
// hierarchical listing of ItemsPrefix (one request per 5,000 items), not a walk of the items'
// points and stripes.
func (r *Repository) ListItems(ctx context.Context) ([]string, error) {
	var items []string
	err := r.store.ListPrefixes(ctx, ItemsPrefix, "/", func(folder string) error {
		id := strings.TrimSuffix(strings.TrimPrefix(folder, ItemsPrefix), "/")
		if ValidItemID(id) {
			items = append(items, id) // in name order, and ids have one length: sorted
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: list items: %w", err)
	}
	return items, nil
}

// SameSubstance reports whether a stored manifest (bare or in its envelope, which is not
// authenticated here) records the same recovery point as m: equal after re-encoding,
// ignoring createdAt (when the commit ran, which an older build stamped anew on every
// attempt). Anything else that differs (LSNs, stripes, key, …) is a different point.
func SameSubstance(stored []byte, m *Manifest) bool {
	old, err := readUnverified("manifest", stored)
	if err != nil {
		return false
	}
	return sameSubstance(old, m)
}

func sameSubstance(old, m *Manifest) bool {
	a, b := *old, *m
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	ea, err := encodeManifest(&a)
	if err != nil {
		return false
	}
	eb, err := encodeManifest(&b)
	return err == nil && bytes.Equal(ea, eb)
}
