package vault

import (
	"context"
	"fmt"
	"testing"
)

// discardStore stages nothing: the benchmark measures the agent's CPU per block (hashing,
// sealing), not the store.
type discardStore struct{ Store }

func (discardStore) StageBlock(context.Context, string, string, []byte) error { return nil }

// BenchmarkPutBlock is the agent's work per block SQL Server sends (4 MiB, incompressible
// and compressible), synchronously: what issue 16 changed by no longer hashing each block's
// plaintext for the index.
func BenchmarkPutBlock(b *testing.B) {
	for _, tc := range []struct {
		name     string
		compress bool
	}{{"plain", false}, {"zstd", true}} {
		b.Run(tc.name, func(b *testing.B) {
			repo := NewRepository(discardStore{}, nil)
			key := testKey(b, 1)
			blob := DataBlob(ItemID(`VM1\SQL2022`, "Sales"), "20261126T101530Z-full-bench", 1, 1)
			block := pages(1, 9)[0]
			for len(block) < 4<<20 {
				block = append(block, pages(8, uint64(len(block)))[3]...)
			}
			block = block[:4<<20]
			if !tc.compress {
				// incompressible: what an encrypted-at-source or already compressed backup sends
				for i := range block {
					block[i] ^= byte(i * 2654435761 >> 13)
				}
			}
			w := repo.NewStripeWriter(blob, key, StripeWriterOptions{Compress: tc.compress})
			defer w.Close()
			ctx := context.Background()
			b.SetBytes(int64(len(block)))
			b.ResetTimer()
			for i := range b.N {
				if err := w.PutBlock(ctx, fmt.Sprintf("block-%d", i%64), block); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
