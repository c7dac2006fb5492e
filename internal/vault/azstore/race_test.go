package azstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// beforeDeleteStore runs before once, just before the sweep's first delete of a data blob.
type beforeDeleteStore struct {
	vault.Store
	before func()
	once   sync.Once
}

func (b *beforeDeleteStore) DeleteIfMatch(ctx context.Context, blob, etag string) error {
	if strings.Contains(blob, "/data/") {
		b.once.Do(b.before)
	}
	return b.Store.DeleteIfMatch(ctx, blob, etag)
}

// racePoint writes one stripe of a log backup point on s and returns its manifest.
func racePoint(t *testing.T, repo *vault.Repository, key *blockcrypt.Key, suffix string) *vault.Manifest {
	ctx := ctxT(t)
	item := vault.ItemID("SQLVM1", "Race")
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	point := vault.NewPointID(at, vault.BackupLog, suffix)
	w := repo.NewStripeWriter(vault.DataBlob(item, point, 1, 0), key, vault.StripeWriterOptions{})
	var ids []string
	for i := range 3 {
		id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "sqlserver-block-%08d", i))
		require.NoError(t, w.PutBlock(ctx, id, bytes.Repeat([]byte{byte(i + 1)}, 8192)))
		ids = append(ids, id)
	}
	info, err := w.Commit(ctx, ids)
	require.NoError(t, err)
	return &vault.Manifest{
		Schema: vault.ManifestSchema, PointID: point, ItemID: item, CreatedAt: at,
		Server:   vault.ServerInfo{VM: "SQLVM1", Instance: "SQLVM1", ServerName: "SQLVM1", ProductVersion: "16.0.4135.4", Edition: "Developer Edition (64-bit)"},
		Database: vault.DatabaseInfo{Name: "Race", GUID: "6f1c1a2e-0000-4000-8000-000000000001", FamilyGUID: "6f1c1a2e-0000-4000-8000-000000000002", RecoveryModel: "FULL"},
		Backup: vault.BackupInfo{Type: vault.BackupLog, FirstLSN: "37000000012300001", LastLSN: "37000000012400001",
			CheckpointLSN: "37000000012300037", DatabaseBackupLSN: "37000000010000037", BackupSetGUID: "b5e0a9d4-0000-4000-8000-000000000003",
			StartTime: at.Add(-time.Minute), FinishTime: at, SizeBytes: 3 * 8192, HasChecksums: true},
		Stripes:    []vault.StripeInfo{info},
		Encryption: vault.EncryptionInfo{Algorithm: vault.AlgorithmAES256GCM, KeyID: key.ID(), Compression: vault.CompressionNone},
		Workflow:   vault.WorkflowRef{ID: "backup-race", RunID: "run-1"},
	}
}

// TestSweepLosesTheRaceToACommitOnAzurite: on the real blob service's conditional delete,
// a commit that lands between the sweep's manifest re-check and its delete keeps its data
// (issue 11, item 3).
func TestSweepLosesTheRaceToACommitOnAzurite(t *testing.T) {
	s := newContainer(t, nil)
	ctx := ctxT(t)
	key, err := blockcrypt.NewKey(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	repo := vault.NewRepository(s, nil).WithKeys(vault.Keys{key})
	m := racePoint(t, repo, key, "az1")
	hooked := &beforeDeleteStore{Store: s, before: func() { require.NoError(t, repo.CommitManifest(ctx, m)) }}
	// Three days on: the stripe is far past any grace.
	rep, err := vault.NewRepository(hooked, nil).WithKeys(vault.Keys{key}).Sweep(ctx, time.Now().Add(72*time.Hour), time.Hour, false)
	require.NoError(t, err)
	assert.Empty(t, rep.Deleted)
	assert.Empty(t, rep.Orphaned)
	got, err := repo.Manifest(ctx, m.ItemID, m.PointID)
	require.NoError(t, err)
	require.NoError(t, repo.DeepVerify(ctx, got, key), "the committed point restores")
}

// TestSweepAndCommitRaceOnAzurite runs them concurrently: a point that exists afterwards
// always has its data, and then the sweep reported no orphan.
func TestSweepAndCommitRaceOnAzurite(t *testing.T) {
	s := newContainer(t, nil)
	ctx := ctxT(t)
	key, err := blockcrypt.NewKey(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	repo := vault.NewRepository(s, nil).WithKeys(vault.Keys{key})
	for i := range 12 {
		m := racePoint(t, repo, key, fmt.Sprintf("c%d", i))
		var wg sync.WaitGroup
		var sweepErr, commitErr error
		var rep vault.SweepReport
		wg.Add(2)
		go func() {
			defer wg.Done()
			rep, sweepErr = repo.Sweep(ctx, time.Now().Add(72*time.Hour), time.Hour, false)
		}()
		go func() { defer wg.Done(); commitErr = repo.CommitManifest(ctx, m) }()
		wg.Wait()
		if got, err := repo.Manifest(ctx, m.ItemID, m.PointID); err == nil {
			require.NoError(t, sweepErr, "round %d", i)
			assert.Empty(t, rep.Orphaned, "round %d", i)
			require.NoError(t, commitErr, "round %d", i)
			require.NoError(t, repo.VerifyStripes(ctx, got.Stripes), "round %d: the point that exists has its data", i)
		} else {
			require.ErrorIs(t, err, vault.ErrNotFound, "round %d", i)
			var se *vault.StripeError
			require.ErrorAs(t, commitErr, &se, "round %d: no point, so the commit failed verifying", i)
			// The sweep's "now" is days ahead of the service's clock here, so a touched stripe
			// does not look young: the sweep may catch the point between its write and its
			// withdrawal and report it, and it is gone now.
			if sweepErr != nil {
				require.ErrorIs(t, sweepErr, vault.ErrOrphanedPoint, "round %d", i)
			}
		}
	}
}
