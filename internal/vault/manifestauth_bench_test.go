package vault

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// BenchmarkManifestAuth is the cost of authenticating the catalog against plain JSON:
// a manifest of a typical point (4 stripes) and of a large one (64 stripes) sealed in its
// envelope and verified (encode + MAC, then MAC check + decode), and a v2 stripe index of
// 1,024 blocks verified as a restore does (SHA-256 of its bytes, strict decode, MAC,
// consistency), each against marshalling and unmarshalling the same object with no
// authentication. ns/op is the authenticated path; plain-ns/op the plain one (timed over
// the same iterations, outside the benchmark's timer); auth/plain their ratio.
func BenchmarkManifestAuth(b *testing.B) {
	ctx := context.Background()
	key := testKey(b, 1)
	repo := NewRepository(NewMemStore(), nil).WithKeys(Keys{key})
	for _, stripes := range []int{4, 64} {
		m := benchManifest(b, key.ID(), stripes)
		name := ManifestBlob(m.ItemID, m.PointID)
		b.Run(fmt.Sprintf("manifest/stripes=%d", stripes), func(b *testing.B) {
			auth := func() {
				plain, err := encodeManifest(m)
				if err != nil {
					b.Fatal(err)
				}
				sealed := sealManifest(key, name, plain)
				got, how, err := repo.authenticateManifest(ctx, name, sealed)
				if err != nil || how != authVerified || len(got.Stripes) != stripes {
					b.Fatal(err, how)
				}
			}
			plain := func() {
				data, err := encodeManifest(m)
				if err != nil {
					b.Fatal(err)
				}
				got, err := DecodeManifest(data)
				if err != nil || len(got.Stripes) != stripes {
					b.Fatal(err)
				}
			}
			compare(b, auth, plain)
		})
	}
	b.Run("index/blocks=1024", func(b *testing.B) {
		data, s := benchIndex(b, key.ID(), 1024)
		keyOf := func(string) (*blockcrypt.Key, error) { return key, nil }
		auth := func() {
			idx, err := checkIndex(s, data, keyOf)
			if err != nil || len(idx.Blocks) != 1024 {
				b.Fatal(err)
			}
		}
		plain := func() {
			var idx stripeIndex
			if err := json.Unmarshal(data, &idx); err != nil || len(idx.Blocks) != 1024 {
				b.Fatal(err)
			}
		}
		compare(b, auth, plain)
	})
}

// compare times auth with the benchmark's timer and plain by itself over as many
// iterations, and reports plain-ns/op and auth/plain.
func compare(b *testing.B, auth, plain func()) {
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		auth()
	}
	authNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.StopTimer()
	start = time.Now()
	for range b.N {
		plain()
	}
	plainNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(plainNs, "plain-ns/op")
	b.ReportMetric(authNs/plainNs, "auth/plain")
}

func benchManifest(b *testing.B, keyID string, stripes int) *Manifest {
	at := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	item := ItemID(`VM1\SQL2022`, "Sales")
	p := NewPointID(at, BackupFull, "bench")
	m := &Manifest{Schema: ManifestSchema, PointID: p, ItemID: item, CreatedAt: at.Add(time.Minute),
		Server:   ServerInfo{VM: "vm1", Instance: `VM1\SQL2022`, ServerName: `VM1\SQL2022`, ProductVersion: "16.0.4135.4", Edition: "Enterprise"},
		Database: DatabaseInfo{Name: "Sales", GUID: "6f1c1a2e-0000-4000-8000-000000000001", FamilyGUID: "6f1c1a2e-0000-4000-8000-000000000002", RecoveryModel: "FULL"},
		Backup: BackupInfo{Type: BackupFull, FirstLSN: "37000000012300001", LastLSN: "37000000012300099", CheckpointLSN: "37000000012300037",
			DatabaseBackupLSN: "0", BackupSetGUID: "b5e0a9d4-0000-4000-8000-000000000003", StartTime: at, FinishTime: at.Add(time.Minute), SizeBytes: 1 << 40},
		Encryption: EncryptionInfo{Algorithm: AlgorithmAES256GCM, KeyID: keyID, Compression: CompressionZstd},
	}
	for i := 1; i <= stripes; i++ {
		blob := DataBlob(item, p, i, stripes)
		m.Stripes = append(m.Stripes, StripeInfo{Blob: blob, Index: IndexBlob(blob), IndexSHA256: strings.Repeat("a", 64),
			PlainBytes: 16 << 30, StoredBytes: 9 << 30, Blocks: 4096, Digest: strings.Repeat("b", 64)})
	}
	if err := m.Validate(); err != nil {
		b.Fatal(err)
	}
	return m
}

// benchIndex is a v2 index of n 4 MiB blocks, as a writer stores it, and the stripe info a
// manifest records for it.
func benchIndex(b *testing.B, keyID string, n int) ([]byte, StripeInfo) {
	key := testKey(b, 1)
	at := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	item := ItemID(`VM1\SQL2022`, "Sales")
	p := NewPointID(at, BackupFull, "bench")
	blob := DataBlob(item, p, 1, 1)
	idx := &stripeIndex{Schema: IndexSchema, Blob: blob, KeyID: keyID, Compression: CompressionZstd, ItemID: item, PointID: p, Stripe: 1}
	for i := range n {
		id := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("blk-%08d", i)))
		idx.Blocks = append(idx.Blocks, indexBlock{ID: id, Plain: 4 << 20, Stored: 2<<20 + 28})
		idx.PlainBytes += 4 << 20
		idx.StoredBytes += 2<<20 + 28
	}
	idx.MAC = hex.EncodeToString(indexMAC(key, idx))
	data, err := json.Marshal(idx)
	if err != nil {
		b.Fatal(err)
	}
	s := StripeInfo{Blob: blob, Index: IndexBlob(blob), IndexSHA256: sha256Hex(data), PlainBytes: idx.PlainBytes,
		StoredBytes: idx.StoredBytes, Blocks: n, Digest: idx.MAC}
	return data, s
}
