package bench

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/activities/agent"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// BenchmarkAgentMemory (issue 6, item 3): the agent as its own process (cmd/agentbench)
// backs up and then restores databases of each size in SQLVAULT_BENCH_MEM_MB (default
// 256; make bench: 1 GiB, 5 GiB, 20 GiB) over a vault kept in files, and reports its peak
// RSS (VmHWM) for each: the process's idle RSS, the peak during the backup, and the peak
// during the restore (VmHWM reset in between). The stripe count is the product's own choice
// for the size (agent.StripesFor). Every restore is checked against the source
// digest. The product's defaults run (blocks in flight, read-ahead, the agent's soft memory
// limit); the first size is also backed up with 4 blocks in flight, to show what the knob
// costs, and the largest is also backed up and restored without the memory limit.
// CPU seconds per GB are reported for the agent (its own getrusage) and for the simulator
// (this process, which runs only the simulator while the agent works).
func BenchmarkAgentMemory(b *testing.B) {
	sizes := envList("SQLVAULT_BENCH_MEM_MB", "256")
	h := newSimHost(b, "MEMVM")
	for i := 0; i < b.N; i++ {
		for k, mb := range sizes {
			size := mb * mib
			name := fmt.Sprintf("Mem%d_%d", mb, i)
			src := h.createDB(b, name, size)
			p := h.startAgentProc(b, "file")
			idle := p.do(b, AgentCommand{Op: "stats"})
			stripes := agent.StripesFor(size)
			sim0 := cpuSeconds()
			bk := p.do(b, AgentCommand{Op: "backup", Backup: &BackupRequest{Database: name, Type: protocol.Full,
				Stripes: stripes, Compress: true}})
			simBackup := cpuSeconds() - sim0
			p.do(b, AgentCommand{Op: "resetPeak"})
			sim0 = cpuSeconds()
			target := name + "_restored"
			rs := p.do(b, AgentCommand{Op: "restore", Restore: &RestoreRequest{ItemID: bk.Backup.ItemID,
				PointID: bk.Backup.PointID, Target: target}})
			simRestore := cpuSeconds() - sim0
			require.Equal(b, src.Digest(), h.db(b, target).Digest(), "restore of %s is exact", name)
			tag := fmt.Sprintf("%dMiB", mb)
			b.ReportMetric(float64(idle.HWMKiB)/1024, "idle-MiB-"+tag)
			b.ReportMetric(float64(bk.HWMKiB)/1024, "backupHWM-MiB-"+tag)
			b.ReportMetric(float64(rs.HWMKiB)/1024, "restoreHWM-MiB-"+tag)
			b.ReportMetric(float64(bk.Backup.PlainBytes)/bk.Seconds/1e6, "backup-MB/s-"+tag)
			b.ReportMetric(float64(bk.Backup.PlainBytes)/rs.Seconds/1e6, "restore-MB/s-"+tag)
			b.ReportMetric(float64(stripes), "stripes-"+tag)
			gb := float64(bk.Backup.PlainBytes) / 1e9
			b.ReportMetric(bk.CPUSeconds/gb, "backup-cpu-s/GB-"+tag)
			b.ReportMetric(rs.CPUSeconds/gb, "restore-cpu-s/GB-"+tag)
			b.ReportMetric(simBackup/gb, "sim-backup-cpu-s/GB-"+tag)
			b.ReportMetric(simRestore/gb, "sim-restore-cpu-s/GB-"+tag)
			if k == len(sizes)-1 {
				// The same backup and restore without the agent's soft memory limit.
				p.stop()
				u := h.startAgentProc(b, "file", "GOMEMLIMIT=off")
				ub := u.do(b, AgentCommand{Op: "backup", Backup: &BackupRequest{Database: name, Type: protocol.Full,
					Stripes: stripes, Compress: true}})
				u.do(b, AgentCommand{Op: "resetPeak"})
				ur := u.do(b, AgentCommand{Op: "restore", Restore: &RestoreRequest{ItemID: ub.Backup.ItemID,
					PointID: ub.Backup.PointID, Target: target + "_nolimit"}})
				require.Equal(b, src.Digest(), h.db(b, target+"_nolimit").Digest())
				b.ReportMetric(float64(ub.HWMKiB)/1024, "backupHWM-nolimit-MiB-"+tag)
				b.ReportMetric(float64(ur.HWMKiB)/1024, "restoreHWM-nolimit-MiB-"+tag)
				u.stop()
			}
			if k == 0 {
				// More blocks in flight cost memory: measure 4 on a fresh process.
				p.stop()
				q := h.startAgentProc(b, "discard")
				f := q.do(b, AgentCommand{Op: "backup", Backup: &BackupRequest{Database: name, Type: protocol.Full,
					Stripes: stripes, Compress: true, InFlight: 4}})
				b.ReportMetric(float64(f.HWMKiB)/1024, "backupHWM-inflight4-MiB-"+tag)
				q.stop()
			}
			p.stop()
		}
	}
}
