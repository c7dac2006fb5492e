package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim/content"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// loopCPU is the baseline of item 4: this process's CPU seconds per GB (1e9 bytes) to put
// the captured blocks through one sealer variant in a tight loop (one goroutine), over a
// discarding store.
func loopCPU(tb testing.TB, h *simHost, blocks [][]byte, total int64, compress, encrypt bool) float64 {
	store := NewDiscardStore()
	blob := vault.DataBlob(vault.ItemID("BENCH", "loop"), vault.NewPointID(time.Now(), "full", ""), 1, 1)
	var sink StripeSink
	if encrypt {
		sink = &WriterSink{W: vault.NewRepository(store, nil).NewStripeWriter(blob, h.key, vault.StripeWriterOptions{Compress: compress})}
	} else {
		sink = &NoCryptWriter{Store: store, Blob: blob, Compress: compress}
	}
	cpu0 := cpuSeconds()
	var done int64
	for i := 0; done < total; i++ {
		b := blocks[i%len(blocks)]
		id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "blk%09d", i))
		require.NoError(tb, sink.PutBlock(context.Background(), id, b))
		done += int64(len(b))
	}
	return (cpuSeconds() - cpu0) / (float64(done) / 1e9)
}

// openLoopCPU is the restore's counterpart of loopCPU: this process's CPU seconds per GB of
// plaintext to open (AES-GCM, then zstd) the captured blocks sealed as the product seals
// them (zstd + AES-GCM), in a tight loop on one goroutine — what every restore does to every
// block whatever its data path.
func openLoopCPU(tb testing.TB, key *blockcrypt.Key, blocks [][]byte, total int64) float64 {
	aad := []byte("bench open loop")
	frames := make([][]byte, len(blocks))
	for i, b := range blocks {
		f, err := key.Seal(nil, b, aad, true)
		require.NoError(tb, err)
		frames[i] = f
	}
	var dst []byte
	cpu0 := cpuSeconds()
	var done int64
	for i := 0; done < total; i++ {
		plain, err := key.Open(dst[:0], frames[i%len(frames)], aad)
		require.NoError(tb, err)
		dst = plain
		done += int64(len(plain))
	}
	return (cpuSeconds() - cpu0) / (float64(done) / 1e9)
}

// BenchmarkAgentCPU (issue 6, item 4): the agent as its own process (cmd/agentbench, store
// discarding block data) backs up a SQLVAULT_BENCH_CPU_MB database (default 256; make bench:
// 512) and reports its own CPU seconds per GB backed up (GB = 1e9 plaintext bytes) and the
// backup rate, for:
//
//   - zstd on/off × AES-256-GCM on/off, 1 stripe, the product's default blocks in flight
//     (encryption off is the bench-only NoCryptWriter, given the same blocks in flight by
//     InFlightSink; encryption on is the product's activities.StreamBackup);
//   - 1, 2, 4 stripes × 1, 2, 4 blocks in flight, zstd + encryption (the product's
//     agent.blocksInFlight);
//   - the two data paths (issue 14), URL and VDI, each a backup and a restore of the same
//     database with the product's defaults (zstd + AES-GCM, 1 stripe, blocks in flight,
//     read-ahead) through the product's activities, by one agent process over one vault kept
//     in files (a restore needs the bytes): the agent's CPU per GB of database backed up and
//     restored, the rates, and the simulator's CPU (this process) for each; and the restore
//     step's FILELISTONLY alone ("filelist"), which the simulator answers by reading a
//     virtual device to its end, and the restore without it ("restore-net"). The restore's
//     baseline is opening the same captured blocks, sealed with zstd + AES-GCM, in a tight
//     loop ("loop-open-cpu-s/GB").
//
// The baseline of each sealer variant is the same blocks through the same sealing code in a
// tight loop in this process (CPU s/GB); ratio = agent CPU per GB / loop CPU per GB.
func BenchmarkAgentCPU(b *testing.B) {
	size := envInt("SQLVAULT_BENCH_CPU_MB", 256) * mib
	h := newSimHost(b, "CPUVM")
	h.enableVDI(b)
	src := h.createDB(b, "Cpu", size)
	blocks := captureBlocks(b, h, "Cpu", 32)
	for i := 0; i < b.N; i++ {
		p := h.startAgentProc(b, "discard")
		backup := func(r BackupRequest) (cpuPerGB, mbps float64) {
			r.Database, r.Type = "Cpu", protocol.Full
			rep := p.do(b, AgentCommand{Op: "backup", Backup: &r})
			gb := float64(rep.Backup.PlainBytes) / 1e9
			return rep.CPUSeconds / gb, float64(rep.Backup.PlainBytes) / rep.Backup.Seconds / 1e6
		}
		for _, v := range []struct {
			name              string
			compress, encrypt bool
		}{{"zstd+gcm", true, true}, {"zstd", true, false}, {"gcm", false, true}, {"none", false, false}} {
			agent, rate := backup(BackupRequest{Stripes: 1, Compress: v.compress, NoEncrypt: !v.encrypt})
			loop := loopCPU(b, h, blocks, size, v.compress, v.encrypt)
			b.ReportMetric(agent, "cpu-s/GB-"+v.name)
			b.ReportMetric(loop, "loop-cpu-s/GB-"+v.name)
			b.ReportMetric(agent/loop, "ratio-"+v.name)
			b.ReportMetric(rate, "MB/s-"+v.name)
		}
		for _, stripes := range []int{1, 2, 4} {
			for _, inflight := range []int{1, 2, 4} {
				agent, rate := backup(BackupRequest{Stripes: stripes, Compress: true, InFlight: inflight})
				tag := fmt.Sprintf("s%d-f%d", stripes, inflight)
				b.ReportMetric(agent, "cpu-s/GB-"+tag)
				b.ReportMetric(rate, "MB/s-"+tag)
			}
		}
		p.stop()
		dataPaths(b, h, "Cpu", src.Digest(), i)
		b.ReportMetric(openLoopCPU(b, h.key, blocks, size), "loop-open-cpu-s/GB")
	}
}

// dataPaths measures a backup and a restore of db on each data path, URL then VDI, by one
// agent process over one file vault (BenchmarkAgentCPU's last part). Every restore must
// give the source's content digest. Metrics are "<path>-<what>": url-backup-cpu-s/GB,
// vdi-restore-MB/s, …, and "vdi/url-backup-MB/s" and the like, the VDI figure over the URL one.
func dataPaths(b *testing.B, h *simHost, db string, want content.Digest, run int) {
	p := h.startAgentProc(b, "file")
	defer p.stop()
	got := map[string]float64{}
	for _, path := range []string{"url", "vdi"} {
		sim0 := cpuSeconds()
		bk := p.do(b, AgentCommand{Op: "backup", Backup: &BackupRequest{Database: db, Type: protocol.Full, Stripes: 1, Compress: true, DataPath: path}})
		simBackup := cpuSeconds() - sim0
		require.Equal(b, path, bk.Backup.DataPath)
		target := fmt.Sprintf("%s_%s_%d", db, path, run)
		sim0 = cpuSeconds()
		rs := p.do(b, AgentCommand{Op: "restore", Restore: &RestoreRequest{ItemID: bk.Backup.ItemID, PointID: bk.Backup.PointID,
			Target: target, DataPath: path}})
		simRestore := cpuSeconds() - sim0
		require.Equal(b, want, h.db(b, target).Digest(), "the %s restore is exact", path)
		// The restore step's FILELISTONLY alone (it is part of the restore above).
		fl := p.do(b, AgentCommand{Op: "filelist", Restore: &RestoreRequest{ItemID: bk.Backup.ItemID, PointID: bk.Backup.PointID, DataPath: path}})
		gb := float64(bk.Backup.PlainBytes) / 1e9
		got[path+"-backup-cpu-s/GB"] = bk.CPUSeconds / gb
		got[path+"-restore-cpu-s/GB"] = rs.CPUSeconds / gb
		got[path+"-filelist-cpu-s/GB"] = fl.CPUSeconds / gb
		got[path+"-restore-net-cpu-s/GB"] = (rs.CPUSeconds - fl.CPUSeconds) / gb
		got[path+"-backup-MB/s"] = float64(bk.Backup.PlainBytes) / bk.Backup.Seconds / 1e6
		got[path+"-restore-MB/s"] = float64(bk.Backup.PlainBytes) / rs.Seconds / 1e6
		got[path+"-sim-backup-cpu-s/GB"] = simBackup / gb
		got[path+"-sim-restore-cpu-s/GB"] = simRestore / gb
	}
	for unit, v := range got {
		b.ReportMetric(v, unit)
		if path, what, _ := strings.Cut(unit, "-"); path == "vdi" {
			b.ReportMetric(v/got["url-"+what], "vdi/url-"+what)
		}
	}
}
