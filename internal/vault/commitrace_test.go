package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lostResultStore loses the answer to the first write of a manifest: the write is done in
// the store, and the caller gets an error, as when the control worker dies right after the
// write or the connection drops before the response (issue 11, item 2).
type lostResultStore struct {
	Store
	mu   sync.Mutex
	lost bool
}

func (l *lostResultStore) Put(ctx context.Context, blob string, data []byte, o PutOptions) error {
	err := l.Store.Put(ctx, blob, data, o)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && !l.lost && isManifestName(blob) {
		l.lost = true
		return fmt.Errorf("%w: connection reset after the write (injected)", ErrUnavailable)
	}
	return err
}

// TestCommitRetryAfterLostResultSucceeds: the first commit's manifest write succeeded but
// its result was lost; the retry, run later (a new createdAt, as a build that stamped its
// own clock would write), finds the manifest equal in substance and succeeds. A manifest
// that differs in substance is still refused.
func TestCommitRetryAfterLostResultSucceeds(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	ls := &lostResultStore{Store: f.store}
	repo := NewRepository(ls, nil).WithKeys(Keys{f.key})
	point := NewPointID(time.Date(2026, 11, 26, 10, 15, 30, 0, time.UTC), BackupLog, "lost")
	info := f.writeStripe(t, DataBlob(f.item, point, 1, 0), pages(2, 8), true)
	first := time.Date(2026, 11, 26, 10, 20, 0, 0, time.UTC)
	err := repo.CommitManifest(ctx, f.manifest(point, first, info))
	require.ErrorIs(t, err, ErrUnavailable, "the first attempt's result is lost")
	_, err = f.repo.Manifest(ctx, f.item, point)
	require.NoError(t, err, "although its write happened")

	retry := f.manifest(point, first, info)
	retry.CreatedAt = first.Add(37 * time.Second)
	require.NoError(t, repo.CommitManifest(ctx, retry), "the retry succeeds for the point that exists")
	got, err := f.repo.Manifest(ctx, f.item, point)
	require.NoError(t, err)
	assert.True(t, first.Equal(got.CreatedAt), "the first write stands")

	other := f.manifest(point, first, info)
	other.Backup.LastLSN = "12345678901234567890999"
	assert.ErrorIs(t, repo.CommitManifest(ctx, other), ErrExists, "a different point under the same id is refused")
}

// hookStore runs before once, just before the first delete of a blob under a data folder.
type hookStore struct {
	Store
	before func()
	once   sync.Once
	// ignoreETag makes DeleteIfMatch unconditional, as a store (or an older build's sweep)
	// that does not honour If-Match would.
	ignoreETag bool
}

func (h *hookStore) hook(blob string) {
	if strings.Contains(blob, "/data/") {
		h.once.Do(h.before)
	}
}

func (h *hookStore) Delete(ctx context.Context, blob string) error {
	h.hook(blob)
	return h.Store.Delete(ctx, blob)
}

func (h *hookStore) DeleteIfMatch(ctx context.Context, blob, etag string) error {
	h.hook(blob)
	if h.ignoreETag {
		return h.Store.Delete(ctx, blob)
	}
	return h.Store.DeleteIfMatch(ctx, blob, etag)
}

// agedStripe writes a stripe of a point that never got its manifest yet, two days old;
// later writes are stamped now, the sweep's now (the storage service's clock agrees with
// the control worker's).
func agedStripe(t *testing.T, f *fixture, now time.Time, suffix string) (string, StripeInfo) {
	f.store.SetClock(func() time.Time { return now.Add(-48 * time.Hour) })
	p := NewPointID(now.Add(-48*time.Hour), BackupLog, suffix)
	info := f.writeStripe(t, DataBlob(f.item, p, 1, 0), pages(2, 5), true)
	f.store.SetClock(func() time.Time { return now })
	return p, info
}

// TestSweepLosesTheRaceToACommit: the sweep has listed an old stripe and re-checked that
// its point has no manifest; then, before its delete, a commit verifies the stripe and
// writes the manifest (a commit retried for hours after an outage). The delete must not
// go through: the point exists, so its data must stay.
func TestSweepLosesTheRaceToACommit(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, info := agedStripe(t, f, now, "race1")
	hs := &hookStore{Store: f.store, before: func() {
		require.NoError(t, f.repo.CommitManifest(ctx, f.manifest(p, now, info)))
	}}
	rep, err := NewRepository(hs, nil).WithKeys(Keys{f.key}).Sweep(ctx, now, time.Hour, false)
	require.NoError(t, err)
	assert.Empty(t, rep.Deleted, "nothing of the committed point is deleted")
	assert.Empty(t, rep.Orphaned)
	m, err := f.repo.Manifest(ctx, f.item, p)
	require.NoError(t, err)
	require.NoError(t, f.repo.DeepVerify(ctx, m, f.key), "the committed point restores")
	reasons := map[string]string{}
	for _, e := range rep.Kept {
		reasons[e.Name] = e.Reason
	}
	assert.Equal(t, ReasonChanged, reasons[info.Blob])
}

// TestCommitLosesTheRaceToASweep: the sweep deleted the stripe first; the commit then
// fails as a verification error, and no manifest is left.
func TestCommitLosesTheRaceToASweep(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, info := agedStripe(t, f, now, "race2")
	rep, err := f.repo.Sweep(ctx, now, time.Hour, false)
	require.NoError(t, err)
	require.Len(t, rep.Deleted, 2)
	err = f.repo.CommitManifest(ctx, f.manifest(p, now, info))
	var se *StripeError
	require.ErrorAs(t, err, &se)
	_, err = f.repo.Manifest(ctx, f.item, p)
	assert.ErrorIs(t, err, ErrNotFound)
}

// TestSweepReportsAPointItWouldOrphan: with a store that ignores the condition (so the
// race is lost), the re-check after deleting names the point that now exists without its
// data, and the sweep fails with ErrOrphanedPoint instead of reporting success.
func TestSweepReportsAPointItWouldOrphan(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, info := agedStripe(t, f, now, "race3")
	hs := &hookStore{Store: f.store, ignoreETag: true, before: func() {
		require.NoError(t, f.repo.CommitManifest(ctx, f.manifest(p, now, info)))
	}}
	rep, err := NewRepository(hs, nil).WithKeys(Keys{f.key}).Sweep(ctx, now, time.Hour, false)
	require.ErrorIs(t, err, ErrOrphanedPoint)
	assert.Equal(t, []string{f.item + "/" + p}, rep.Orphaned)
}

// deleteAfterManifestStore deletes a stripe unconditionally right after the manifest is
// written: what a deleter that does not honour the ETag would do in the worst moment.
type deleteAfterManifestStore struct {
	Store
	victim string
}

func (d *deleteAfterManifestStore) Put(ctx context.Context, blob string, data []byte, o PutOptions) error {
	err := d.Store.Put(ctx, blob, data, o)
	if err == nil && isManifestName(blob) {
		if derr := d.Store.Delete(ctx, d.victim); derr != nil {
			return derr
		}
	}
	return err
}

// TestCommitReverifiesAfterWritingTheManifest: stripes gone after the manifest write make
// the commit withdraw the manifest and fail, so no point exists without its data.
func TestCommitReverifiesAfterWritingTheManifest(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p, info := agedStripe(t, f, now, "race4")
	repo := NewRepository(&deleteAfterManifestStore{Store: f.store, victim: info.Blob}, nil).WithKeys(Keys{f.key})
	err := repo.CommitManifest(ctx, f.manifest(p, now, info))
	require.ErrorIs(t, err, ErrDataNotCommitted)
	_, err = f.repo.Manifest(ctx, f.item, p)
	assert.ErrorIs(t, err, ErrNotFound, "the manifest was withdrawn")
}

// TestSweepAndCommitRaceConcurrently runs sweep and commit at the same time, many times:
// whatever the interleaving, a point that exists has all its data, and the sweep never
// reports an orphan.
func TestSweepAndCommitRaceConcurrently(t *testing.T) {
	for i := range 150 {
		f := newFixture(t)
		ctx := ctxT(t)
		now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
		p, info := agedStripe(t, f, now, fmt.Sprintf("c%d", i))
		var wg sync.WaitGroup
		var sweepErr, commitErr error
		var rep SweepReport
		wg.Add(2)
		go func() { defer wg.Done(); rep, sweepErr = f.repo.Sweep(ctx, now, time.Hour, false) }()
		go func() { defer wg.Done(); commitErr = f.repo.CommitManifest(ctx, f.manifest(p, now, info)) }()
		wg.Wait()
		require.NoError(t, sweepErr, "round %d", i)
		assert.Empty(t, rep.Orphaned, "round %d", i)
		m, err := f.repo.Manifest(ctx, f.item, p)
		if errors.Is(err, ErrNotFound) {
			var se *StripeError
			require.ErrorAs(t, commitErr, &se, "round %d: no point, so the commit failed verifying", i)
			continue
		}
		require.NoError(t, err)
		require.NoError(t, commitErr, "round %d", i)
		require.NoError(t, f.repo.VerifyStripes(ctx, m.Stripes), "round %d: the point that exists has its data", i)
	}
}

// TestSweepAndCommitRaceWithSkewedClocks: the same race when the storage's clock is far
// behind (every write looks two days old, so a touched stripe never looks young): the
// conditional delete and the commit's touch after its write still leave no point without
// its data at the end. The sweep may report a point it caught between its write and its
// withdrawal; such a point must then be gone.
func TestSweepAndCommitRaceWithSkewedClocks(t *testing.T) {
	for i := range 150 {
		f := newFixture(t)
		ctx := ctxT(t)
		now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
		p, info := agedStripe(t, f, now, fmt.Sprintf("k%d", i))
		f.store.SetClock(func() time.Time { return now.Add(-48 * time.Hour) })
		var wg sync.WaitGroup
		var sweepErr, commitErr error
		wg.Add(2)
		go func() { defer wg.Done(); _, sweepErr = f.repo.Sweep(ctx, now, time.Hour, false) }()
		go func() { defer wg.Done(); commitErr = f.repo.CommitManifest(ctx, f.manifest(p, now, info)) }()
		wg.Wait()
		m, err := f.repo.Manifest(ctx, f.item, p)
		if errors.Is(err, ErrNotFound) {
			var se *StripeError
			require.ErrorAs(t, commitErr, &se, "round %d: no point, so the commit failed verifying", i)
			if sweepErr != nil {
				require.ErrorIs(t, sweepErr, ErrOrphanedPoint, "round %d", i)
			}
			continue
		}
		require.NoError(t, err)
		require.NoError(t, sweepErr, "round %d", i)
		require.NoError(t, commitErr, "round %d", i)
		require.NoError(t, f.repo.VerifyStripes(ctx, m.Stripes), "round %d: the point that exists has its data", i)
	}
}

func TestSweepRefusesNegativeGrace(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	_, info := agedStripe(t, f, now, "neg")
	_, err := f.repo.Sweep(ctxT(t), now, -time.Hour, false)
	require.ErrorIs(t, err, ErrNegativeGrace)
	require.NoError(t, f.repo.VerifyStripes(ctxT(t), []StripeInfo{info}), "nothing deleted")
}

func isManifestName(blob string) bool { return parseBlobName(blob).kind == "manifest" }
