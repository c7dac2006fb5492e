package bench

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/vdistandin"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
)

const (
	agentHost = "agent.sqlvault.bench"
	sqlLogin  = "sqlvault"
	sqlPass   = "Bench-Passw0rd!"
	mib       = 1 << 20
	gib       = 1 << 30
)

// envInt reads a size or count knob from the environment (benchreport sets them; a plain
// `go test -bench` uses the small defaults).
func envInt(name string, def int64) int64 {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			return n
		}
	}
	return def
}

func envList(name, def string) []int64 {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []int64
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err == nil {
			out = append(out, n)
		}
	}
	return out
}

// simHost is a simulator with one instance, and the endpoint certificate it trusts.
type simHost struct {
	sim      *sqlsim.Simulator
	inst     *sqlsim.Instance
	certFile string
	keyFile  string
	caFile   string
	key      *blockcrypt.Key
	dsn      string
	dir      string
	vdiLib   string // the stand-in libsqlvdi.so once enableVDI ran: agents started after it can take the VDI path
}

var certOnce struct {
	sync.Once
	dir, cert, key, ca string
	err                error
}

// endpointCert makes one endpoint certificate per test binary.
func endpointCert(tb testing.TB) (cert, key, ca string) {
	certOnce.Do(func() {
		certOnce.dir, certOnce.err = os.MkdirTemp("", "sqlvault-bench-cert-")
		if certOnce.err == nil {
			certOnce.cert, certOnce.key, certOnce.ca, certOnce.err = endpoint.GenerateSelfSigned(agentHost, certOnce.dir)
		}
	})
	require.NoError(tb, certOnce.err)
	return certOnce.cert, certOnce.key, certOnce.ca
}

func newKey(tb testing.TB) *blockcrypt.Key {
	raw := make([]byte, blockcrypt.KeySize)
	_, _ = rand.Read(raw)
	k, err := blockcrypt.NewKey(raw)
	require.NoError(tb, err)
	return k
}

// newSimHost starts a simulator instance named machine that trusts the endpoint
// certificate. Each agent started for it maps agentHost in the machine's hosts file to the
// loopback address it listens on (port 443: SQL Server accepts no port in a URL).
func newSimHost(tb testing.TB, machine string) *simHost {
	tb.Helper()
	cert, key, ca := endpointCert(tb)
	caPEM, err := os.ReadFile(ca)
	require.NoError(tb, err)
	pool := x509.NewCertPool()
	require.True(tb, pool.AppendCertsFromPEM(caPEM))
	sim := sqlsim.New(sqlsim.Config{TrustedRoots: pool})
	tb.Cleanup(func() { _ = sim.Close() })
	inst, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: machine,
		Logins: []sqlsim.Login{{Name: sqlLogin, Password: sqlPass, Sysadmin: true}}})
	require.NoError(tb, err)
	return &simHost{sim: sim, inst: inst, certFile: cert, keyFile: key, caFile: ca, key: newKey(tb),
		dsn: inst.DSN(sqlLogin, sqlPass, ""), dir: tb.TempDir()}
}

func (h *simHost) createDB(tb testing.TB, name string, size int64) *sqlsim.Database {
	tb.Helper()
	db, err := h.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: name, SizeBytes: size})
	require.NoError(tb, err)
	return db
}

// enableVDI builds the stand-in libsqlvdi.so (g++, cached) and gives the simulator and the
// agents started after it a socket directory of their own ($SQLSIM_VDI_DIR: the simulator
// reads it at each statement, the library when a set is created, agentbench inherits it), so
// requests with DataPath "vdi" run BACKUP … TO VIRTUAL_DEVICE through the product's Linux
// VDI client.
func (h *simHost) enableVDI(tb testing.TB) {
	tb.Helper()
	lib, err := vdistandin.Build()
	require.NoError(tb, err, "the VDI benchmarks need the stand-in libsqlvdi.so, built with g++")
	tb.Setenv(vdistandin.DirEnv, tempDir(tb, "sqlvault-vdi-"))
	h.vdiLib = lib
}

// agent starts an in-process agent on this host over store.
func (h *simHost) agent(tb testing.TB, store vault.Store) *Agent {
	tb.Helper()
	a, err := StartAgent(AgentConfig{Host: agentHost, Listen: h.endpointAddr(tb), CertFile: h.certFile, KeyFile: h.keyFile,
		Instance: h.inst.ServerName(), DSN: h.dsn, Store: store, Key: h.key, VDILib: h.vdiLib})
	require.NoError(tb, err)
	tb.Cleanup(a.Close)
	return a
}

// endpointAddr picks port 443 of a fresh loopback address for an agent's endpoint and maps
// agentHost to it in this machine's hosts file.
func (h *simHost) endpointAddr(tb testing.TB) string {
	tb.Helper()
	listen, err := testenv.Loopback443()
	require.NoError(tb, err)
	h.inst.SetHostsEntry(agentHost, testenv.LoopbackIP(listen))
	return listen
}

func (h *simHost) db(tb testing.TB, name string) *sqlsim.Database {
	db, ok := h.inst.Database(name)
	require.True(tb, ok, "database %s", name)
	return db
}

// cpuSeconds is this process's user+system CPU time so far.
func cpuSeconds() float64 { return CPUSeconds() }

func tempDir(tb testing.TB, pattern string) string {
	dir, err := os.MkdirTemp(os.Getenv("SQLVAULT_BENCH_TMP"), pattern)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Clean(dir)
}

// cpuMeter measures how busy the machine's CPUs were (all processes, from /proc/stat) and
// this process's CPU time over an interval.
type cpuMeter struct {
	busy0, total0 uint64
	self0         float64
	t0            time.Time
}

func procStatCPU() (busy, total uint64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

func startCPU() cpuMeter {
	b, t := procStatCPU()
	return cpuMeter{busy0: b, total0: t, self0: cpuSeconds(), t0: time.Now()}
}

// stop returns the cores the whole machine kept busy on average, and this process's.
func (m cpuMeter) stop() (machineCores, selfCores float64) {
	b, t := procStatCPU()
	wall := time.Since(m.t0).Seconds()
	if t > m.total0 {
		machineCores = float64(b-m.busy0) / float64(t-m.total0) * float64(runtime.NumCPU())
	}
	return machineCores, (cpuSeconds() - m.self0) / wall
}

// profilePhase runs f under a CPU profile written to $SQLVAULT_BENCH_PROFILE_DIR/name.pprof
// when that variable is set (benchreport's profiling pass); otherwise it just runs f.
func profilePhase(tb testing.TB, name string, f func()) {
	dir := os.Getenv("SQLVAULT_BENCH_PROFILE_DIR")
	if dir == "" {
		f()
		return
	}
	file, err := os.Create(filepath.Join(dir, name+".pprof"))
	require.NoError(tb, err)
	defer file.Close()
	if err := pprof.StartCPUProfile(file); err != nil {
		f() // already profiling (go test -cpuprofile): leave it to that profile
		return
	}
	defer pprof.StopCPUProfile()
	f()
}
