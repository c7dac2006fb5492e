package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// captureStore keeps a copy of the first n frames staged through it (with NoEncrypt and no
// compression a frame is a 24-byte header and then the plaintext block, byte for byte what
// SQL Server sent).
type captureStore struct {
	vault.Store
	n      int
	mu     sync.Mutex
	blocks [][]byte
}

func (c *captureStore) StageBlock(ctx context.Context, blob, id string, data []byte) error {
	c.mu.Lock()
	if len(c.blocks) < c.n {
		c.blocks = append(c.blocks, append([]byte(nil), data[blockcrypt.HeaderSize:]...))
	}
	c.mu.Unlock()
	return c.Store.StageBlock(ctx, blob, id, data)
}

// captureBlocks backs up db once through a no-crypt, no-compression sink and returns the
// first n Put Block bodies SQL Server sent: the bytes the baseline seals.
func captureBlocks(tb testing.TB, h *simHost, db string, n int) [][]byte {
	cs := &captureStore{Store: NewDiscardStore(), n: n}
	a := h.agent(tb, cs)
	_, err := a.Backup(context.Background(), BackupRequest{Database: db, Type: protocol.Full, Stripes: 1, NoEncrypt: true, Custom: true})
	require.NoError(tb, err)
	a.Close()
	require.NotEmpty(tb, cs.blocks)
	return cs.blocks
}

// sealLoop is the baseline: the same blocks through the product's per-block work
// (vault.StripeWriter.PutBlock: SHA-256 of the plaintext, zstd, AES-256-GCM) in a tight
// loop on workers goroutines, over a discarding store, until total bytes are sealed.
// It returns bytes per second.
func sealLoop(tb testing.TB, key *blockcrypt.Key, blocks [][]byte, total int64, workers int, compress bool) float64 {
	repo := vault.NewRepository(NewDiscardStore(), nil)
	w := repo.NewStripeWriter(vault.DataBlob(vault.ItemID("BENCH", "loop"), vault.NewPointID(time.Now(), "full", ""), 1, 1), key, vault.StripeWriterOptions{Compress: compress})
	var next atomic.Int64
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				b := blocks[int(i)%len(blocks)]
				if done.Add(int64(len(b))) > total+int64(len(b)) {
					return
				}
				id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "blk%09d", i))
				if err := w.PutBlock(context.Background(), id, b); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(min(done.Load(), total)) / time.Since(start).Seconds()
}

// BenchmarkPipeline (issue 6, item 1): simulator → TDS BACKUP → HTTPS endpoint → zstd +
// AES-256-GCM (vault.StripeWriter, through the product's activities.StreamBackup) → a store
// that discards, against the same bytes through the same sealing code in a tight loop (one
// goroutine: "base1"; two goroutines, both cores: "base2"). The size is
// SQLVAULT_BENCH_PIPELINE_MB (default 256; make bench: 512). The product runs with its
// default blocks in flight (2 per stripe); the same backup with 1 (every Put Block answered
// only once its block is staged) and with 4 is measured next to it.
//
// The same backup on the VDI data path (issue 14) runs right after the URL one, on the same
// database, agent, sealing and store: BACKUP … TO VIRTUAL_DEVICE, the product's Linux VDI
// client over the stand-in libsqlvdi.so ("pipe-vdi-MB/s", and "vdi/url", its rate over the
// URL path's).
func BenchmarkPipeline(b *testing.B) {
	size := envInt("SQLVAULT_BENCH_PIPELINE_MB", 256) * mib
	nobase := envInt("SQLVAULT_BENCH_NOBASE", 0) == 1
	h := newSimHost(b, "PIPEVM")
	h.enableVDI(b)
	h.createDB(b, "Pipe", size)
	var blocks [][]byte
	if !nobase {
		blocks = captureBlocks(b, h, "Pipe", 32)
	}
	a := h.agent(b, NewDiscardStore())
	for i := 0; i < b.N; i++ {
		var res BackupResult
		var err error
		profilePhase(b, "pipeline", func() {
			res, err = a.Backup(context.Background(), BackupRequest{Database: "Pipe", Type: protocol.Full, Stripes: 1, Compress: true})
		})
		require.NoError(b, err)
		require.Equal(b, "url", res.DataPath)
		pipe := float64(res.PlainBytes) / res.Seconds
		b.ReportMetric(pipe/1e6, "pipe-MB/s")
		var vres BackupResult
		profilePhase(b, "pipeline-vdi", func() {
			vres, err = a.Backup(context.Background(), BackupRequest{Database: "Pipe", Type: protocol.Full, Stripes: 1, Compress: true, DataPath: "vdi"})
		})
		require.NoError(b, err)
		require.Equal(b, "vdi", vres.DataPath)
		vdi := float64(vres.PlainBytes) / vres.Seconds
		b.ReportMetric(vdi/1e6, "pipe-vdi-MB/s")
		b.ReportMetric(vdi/pipe, "vdi/url")
		if nobase {
			continue
		}
		f1, err := a.Backup(context.Background(), BackupRequest{Database: "Pipe", Type: protocol.Full, Stripes: 1, Compress: true, InFlight: 1})
		require.NoError(b, err)
		pipe1 := float64(f1.PlainBytes) / f1.Seconds
		f4, err := a.Backup(context.Background(), BackupRequest{Database: "Pipe", Type: protocol.Full, Stripes: 1, Compress: true, InFlight: 4})
		require.NoError(b, err)
		pipe4 := float64(f4.PlainBytes) / f4.Seconds
		base1 := sealLoop(b, h.key, blocks, res.PlainBytes, 1, true)
		base2 := sealLoop(b, h.key, blocks, res.PlainBytes, 2, true)
		b.ReportMetric(base1/1e6, "base1-MB/s")
		b.ReportMetric(base2/1e6, "base2-MB/s")
		b.ReportMetric(pipe/base1, "ratio1")
		b.ReportMetric(pipe/base2, "ratio2")
		b.ReportMetric(pipe1/1e6, "pipe-inflight1-MB/s")
		b.ReportMetric(pipe1/base1, "ratio1-inflight1")
		b.ReportMetric(pipe4/1e6, "pipe-inflight4-MB/s")
		b.ReportMetric(pipe4/base1, "ratio1-inflight4")
		b.ReportMetric(pipe4/base2, "ratio2-inflight4")
		b.ReportMetric(float64(res.PlainBytes)/float64(mib), "MiB")
		b.ReportMetric(float64(res.StoredBytes)/float64(res.PlainBytes), "stored/plain")
	}
}
