package azstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/vault"
)

type getCounter struct {
	vault.Store
	gets atomic.Int64
}

func (g *getCounter) Get(ctx context.Context, blob string) ([]byte, error) {
	g.gets.Add(1)
	return g.Store.Get(ctx, blob)
}

// Point summaries survive Azure's metadata headers and XML listing exactly (escapes, times
// with nanoseconds, a GUID needing escapes), across list pages, with no Get; a manifest
// without metadata is read instead.
func TestPointSummariesFromTheListing(t *testing.T) {
	s := newContainer(t, func(c *Config) { c.ListPageSize = 2 })
	ctx := ctxT(t)
	item := vault.ItemID("SQLVM1", "Sales")
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var want []vault.PointSummary
	for i, typ := range []string{vault.BackupFull, vault.BackupLog, vault.BackupDifferential, vault.BackupLog, vault.BackupFull} {
		at := base.Add(time.Duration(i) * time.Hour)
		p := vault.NewPointID(at, typ, fmt.Sprintf("p%d", i))
		blob := vault.DataBlob(item, p, 1, 0)
		m := &vault.Manifest{Schema: vault.ManifestSchema, PointID: p, ItemID: item, CreatedAt: at.Add(time.Minute + 987654321),
			Server:   vault.ServerInfo{Instance: "SQLVM1"},
			Database: vault.DatabaseInfo{Name: "Sales", GUID: "6f1c1a2e-0000-4000-8000-000000000001"},
			Backup: vault.BackupInfo{Type: typ, CopyOnly: i == 4, FirstLSN: vault.LSN(fmt.Sprint(1000 + i)), LastLSN: vault.LSN(fmt.Sprint(2000 + i)),
				CheckpointLSN: "1500", BackupSetGUID: "set & guid %/" + fmt.Sprint(i), StartTime: at, FinishTime: at.Add(time.Second)},
			Stripes:    []vault.StripeInfo{{Blob: blob, Index: vault.IndexBlob(blob), IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)}},
			Encryption: vault.EncryptionInfo{Algorithm: vault.AlgorithmAES256GCM, KeyID: "k", Compression: vault.CompressionNone},
		}
		if typ == vault.BackupDifferential {
			m.Backup.DifferentialBaseLSN = "1500"
		}
		if i == 4 {
			until := at.AddDate(0, 3, 0)
			m.RetainUntil = &until
		}
		data, err := json.Marshal(m)
		require.NoError(t, err)
		md := vault.SummaryMetadata(m)
		if i == 3 {
			md = nil // written before summaries
		}
		require.NoError(t, s.Put(ctx, vault.ManifestBlob(item, p), data, vault.PutOptions{IfNoneMatch: true, Metadata: md}))
		want = append(want, vault.SummaryOf(m))
	}
	gc := &getCounter{Store: s}
	pages := 0
	s.onPage = func() { pages++ }
	got, err := vault.NewRepository(gc, nil).ListPointSummaries(ctx, item)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, int64(1), gc.gets.Load(), "only the manifest without a summary is read")
	assert.Equal(t, 3, pages, "5 manifests at 2 per page")
}
