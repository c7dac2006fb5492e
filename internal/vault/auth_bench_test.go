package vault

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkListPointSummaries is the cost of authenticating a listing: an item with 3,500
// points (35 days of 15-minute logs and daily fulls, as BenchmarkPlanRestore's largest
// item) listed with the key (every summary's MAC checked) and without (nothing checked).
func BenchmarkListPointSummaries(b *testing.B) {
	key := testKey(b, 1)
	store := NewMemStore()
	item := ItemID(`VM1\SQL2022`, "Sales")
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for i := range 3500 {
		typ := BackupLog
		if i%100 == 0 {
			typ = BackupFull
		}
		p := NewPointID(at.Add(time.Duration(i)*15*time.Minute), typ, fmt.Sprintf("p%05d", i))
		blob := DataBlob(item, p, 1, 1)
		m := &Manifest{Schema: ManifestSchema, PointID: p, ItemID: item, CreatedAt: at.Add(time.Duration(i)*15*time.Minute + time.Minute),
			Server:   ServerInfo{VM: "vm1", Instance: `VM1\SQL2022`, ServerName: `VM1\SQL2022`},
			Database: DatabaseInfo{Name: "Sales", GUID: "6f1c1a2e-0000-4000-8000-000000000001", FamilyGUID: "6f1c1a2e-0000-4000-8000-000000000002"},
			Backup: BackupInfo{Type: typ, FirstLSN: LSN(fmt.Sprint(37000000000000000 + i*100)), LastLSN: LSN(fmt.Sprint(37000000000000100 + i*100)),
				CheckpointLSN: "37000000000000001", BackupSetGUID: "b", StartTime: at, FinishTime: at},
			Stripes:    []StripeInfo{{Blob: blob, Index: IndexBlob(blob), IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)}},
			Encryption: EncryptionInfo{Algorithm: AlgorithmAES256GCM, KeyID: key.ID(), Compression: CompressionZstd},
		}
		data, md, err := SealedManifest(key, m)
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Put(ctx, ManifestBlob(item, p), data, PutOptions{Metadata: md}); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		repo *Repository
	}{{"authenticated", NewRepository(store, nil).WithKeys(Keys{key})}, {"unchecked", NewRepository(store, nil)}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				sums, err := tc.repo.ListPointSummaries(ctx, item)
				if err != nil || len(sums) != 3500 {
					b.Fatal(err, len(sums))
				}
			}
		})
	}
}
