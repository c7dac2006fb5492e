package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/activities/agent"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// repeatReader yields n bytes cycling over a random buffer (incompressible, like the
// vault's ciphertext), without allocating n bytes.
type repeatReader struct {
	buf []byte
	n   int64
	off int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n-r.off)
	done := int64(0)
	for done < k {
		c := copy(p[done:k], r.buf[(r.off+done)%int64(len(r.buf)):])
		done += int64(c)
	}
	r.off += k
	return int(k), nil
}

var containerSeq atomic.Int64

func newContainer(tb testing.TB, az *testenv.Azurite) (*azstore.Store, *container.Client) {
	name := fmt.Sprintf("bench-%d-%d", os.Getpid(), containerSeq.Add(1))
	store, err := azstore.New(context.Background(), azstore.Config{ConnectionString: az.ConnectionString, Container: name, CreateContainer: true})
	require.NoError(tb, err)
	cc, err := container.NewClientFromConnectionString(az.ConnectionString, name, nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { _, _ = cc.Delete(context.Background(), nil) })
	return store, cc
}

// uploadBaseline is azblob's UploadStream of n incompressible bytes into Azurite with the
// agent's block size (4 MiB); it returns bytes per second.
func uploadBaseline(tb testing.TB, cc *container.Client, n int64, concurrency int) float64 {
	return uploadBaselineBS(tb, cc, n, concurrency, 4*mib)
}

func uploadBaselineBS(tb testing.TB, cc *container.Client, n int64, concurrency int, blockSize int64) float64 {
	buf := make([]byte, 4*mib)
	_, _ = rand.Read(buf)
	bb := cc.NewBlockBlobClient(fmt.Sprintf("baseline-%d", containerSeq.Add(1)))
	start := time.Now()
	_, err := bb.UploadStream(context.Background(), &repeatReader{buf: buf, n: n},
		&blockblob.UploadStreamOptions{BlockSize: blockSize, Concurrency: concurrency})
	require.NoError(tb, err)
	return float64(n) / time.Since(start).Seconds()
}

// downloadBaseline is azblob's DownloadStream of the given blobs, read to the end.
func downloadBaseline(tb testing.TB, cc *container.Client, blobs []string) float64 {
	var n int64
	start := time.Now()
	for _, name := range blobs {
		resp, err := cc.NewBlobClient(name).DownloadStream(context.Background(), nil)
		require.NoError(tb, err)
		k, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.NoError(tb, err)
		n += k
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkAzurite (issue 6, item 2): a full backup of a SQLVAULT_BENCH_AZURITE_MB database
// (default 256; make bench: 1 GiB) through the product path (activities.StreamBackup, then
// CommitRecoveryPoint) into Azurite, against azblob UploadStream of the same number of
// bytes as the backup stored (the agent compresses, so it stores fewer bytes than the
// database holds); and the restore (activities.RestoreStep + RecoverDatabase, checked
// against the source digest) against azblob DownloadStream of the same blobs. Rates are
// computed over stored bytes for both, so the ratio compares equal work on the store.
// The product runs with its defaults (config.DefaultBlocksInFlight blocks in flight per
// stripe, vault.DefaultReadAhead blocks of read-ahead); the same backup with 1 and 4 blocks
// in flight, and the restore with no read-ahead and with 4, are measured next to it.
func BenchmarkAzurite(b *testing.B) {
	size := envInt("SQLVAULT_BENCH_AZURITE_MB", 256) * mib
	az := sharedAzurite(b)
	h := newSimHost(b, "AZVM")
	name := "AzSales"
	src := h.createDB(b, name, size)
	stripes := agent.StripesFor(size)
	for i := 0; i < b.N; i++ {
		store, cc := newContainer(b, az)
		a := h.agent(b, store)
		ctx := context.Background()

		m := startCPU()
		var bk BackupResult
		var err error
		profilePhase(b, "azurite-backup", func() {
			bk, err = a.Backup(ctx, BackupRequest{Database: name, Type: protocol.Full, Stripes: stripes, Compress: true})
		})
		require.NoError(b, err)
		busyBackup, selfBackup := m.stop()
		backupRate := float64(bk.StoredBytes) / bk.Seconds
		m = startCPU()
		upRate := uploadBaseline(b, cc, bk.StoredBytes, 4)
		busyUp, _ := m.stop()

		target := fmt.Sprintf("%s_r%d", name, i)
		m = startCPU()
		var secs float64
		profilePhase(b, "azurite-restore", func() {
			secs, err = a.Restore(ctx, RestoreRequest{ItemID: bk.ItemID, PointID: bk.PointID, Target: target})
		})
		require.NoError(b, err)
		busyRestore, selfRestore := m.stop()
		require.Equal(b, src.Digest(), h.db(b, target).Digest())
		restoreRate := float64(bk.StoredBytes) / secs
		var blobs []string
		for _, s := range bk.Stripes {
			blobs = append(blobs, s.Blob)
		}
		m = startCPU()
		downRate := downloadBaseline(b, cc, blobs)
		busyDown, _ := m.stop()

		// The knobs around their defaults: blocks in flight 1 and 4, read-ahead none and 4.
		m = startCPU()
		fb, err := a.Backup(ctx, BackupRequest{Database: name, Type: protocol.Full, Stripes: stripes, Compress: true, InFlight: 4})
		require.NoError(b, err)
		busyFB, _ := m.stop()
		f1, err := a.Backup(ctx, BackupRequest{Database: name, Type: protocol.Full, Stripes: stripes, Compress: true, InFlight: 1})
		require.NoError(b, err)
		target2 := target + "_ra"
		m = startCPU()
		secs2, err := a.Restore(ctx, RestoreRequest{ItemID: fb.ItemID, PointID: fb.PointID, Target: target2, ReadAhead: 4})
		require.NoError(b, err)
		busyRA, _ := m.stop()
		require.Equal(b, src.Digest(), h.db(b, target2).Digest())
		target3 := target + "_nora"
		secs0, err := a.Restore(ctx, RestoreRequest{ItemID: f1.ItemID, PointID: f1.PointID, Target: target3, ReadAhead: -1})
		require.NoError(b, err)
		require.Equal(b, src.Digest(), h.db(b, target3).Digest())

		b.ReportMetric(float64(size)/float64(mib), "db-MiB")
		b.ReportMetric(float64(bk.StoredBytes)/float64(mib), "stored-MiB")
		b.ReportMetric(backupRate/1e6, "backup-MB/s")
		b.ReportMetric(upRate/1e6, "upload-MB/s")
		b.ReportMetric(backupRate/upRate, "backup-ratio")
		b.ReportMetric(restoreRate/1e6, "restore-MB/s")
		b.ReportMetric(downRate/1e6, "download-MB/s")
		b.ReportMetric(restoreRate/downRate, "restore-ratio")
		b.ReportMetric(float64(fb.StoredBytes)/fb.Seconds/upRate, "backup-inflight4-ratio")
		b.ReportMetric(float64(fb.StoredBytes)/secs2/downRate, "restore-readahead4-ratio")
		b.ReportMetric(float64(f1.StoredBytes)/f1.Seconds/upRate, "backup-inflight1-ratio")
		b.ReportMetric(float64(f1.StoredBytes)/secs0/downRate, "restore-readahead0-ratio")
		b.ReportMetric(float64(size)/bk.Seconds/1e6, "backup-db-MB/s")
		b.ReportMetric(float64(size)/secs/1e6, "restore-db-MB/s")
		b.ReportMetric(busyBackup, "cores-busy-backup")
		b.ReportMetric(selfBackup, "cores-simagent-backup")
		b.ReportMetric(busyUp, "cores-busy-upload")
		b.ReportMetric(busyRestore, "cores-busy-restore")
		b.ReportMetric(selfRestore, "cores-simagent-restore")
		b.ReportMetric(busyDown, "cores-busy-download")
		b.ReportMetric(busyFB, "cores-busy-backup-inflight4")
		b.ReportMetric(busyRA, "cores-busy-restore-readahead4")
		a.Close()
	}
}
