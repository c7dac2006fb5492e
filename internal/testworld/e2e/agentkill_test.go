package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

var (
	binMu    sync.Mutex
	binPaths = map[string]string{}
)

// buildBinary builds one of the project's commands (e.g. "./worker") once per test run, as a
// person would run it.
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binPaths[pkg]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "sqlvault-bin-")
	require.NoError(t, err)
	paths, err := testenv.BuildCommands(dir, pkg)
	require.NoError(t, err)
	binPaths[pkg] = paths[filepath.Base(pkg)]
	return binPaths[pkg]
}

// agentProcess is the worker binary running the agent role, as on a SQL Server VM.
type agentProcess struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// startAgentProcess writes an agent configuration and starts the worker with it. On the VDI
// path the process is this test binary as an agent (runAgentChild), which loads the stand-in
// libsqlvdi.so, from the same configuration.
func (s *stack) startAgentProcess(name string) *agentProcess {
	var bin, lib string
	dataPath := datapath.URL
	if s.path == datapath.VDI {
		exe, err := os.Executable()
		require.NoError(s.t, err)
		bin, lib, dataPath = exe, standInLibrary(s.t), datapath.VDI
	} else {
		bin = buildBinary(s.t, "./cmd/sqlvault-worker")
	}
	dir := s.t.TempDir()
	// Port 443 of a loopback address of its own, which this VM's hosts file names.
	listen, err := testenv.Loopback443()
	require.NoError(s.t, err)
	s.inst.SetHostsEntry(agentHost, testenv.LoopbackIP(listen))
	cfg := fmt.Sprintf(`role: agent
temporal:
  address: %s
  namespace: %s
vault:
  container: %s
  auth: connectionString
  connectionString: {env: SQLVAULT_VAULT_CONNECTION_STRING}
key:
  file: %s
agent:
  vm: %s
  endpoint:
    host: %s
    listen: %s
    certFile: %s
    keyFile: %s
  instances:
    - name: %s
      host: 127.0.0.1
      port: %d
      user: %s
      password: {env: SQLVAULT_SQL_PASSWORD}
      encrypt: disable
      dataPath: %s
  maxConcurrentBackups: 2
log:
  level: debug
  format: json
`, s.temporal.HostPort, s.temporal.Namespace, s.container, s.keyFile, s.agentVM(), agentHost, listen, s.certFile, s.keyPEM,
		vm, s.inst.Port(), sqlLogin, dataPath)
	cfgPath := filepath.Join(dir, "agent.yaml")
	require.NoError(s.t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(s.t, err)
	env := append(os.Environ(), "SQLVAULT_VAULT_CONNECTION_STRING="+s.azurite.ConnectionString, "SQLVAULT_SQL_PASSWORD="+sqlPassword)
	cmd := exec.Command(bin, "--config", cfgPath)
	if s.path == datapath.VDI {
		cmd = exec.Command(bin)
		env = append(env, agentChildConfigEnv+"="+cfgPath, agentChildLibraryEnv+"="+lib)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(s.t, cmd.Start())
	p := &agentProcess{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.done) }()
	s.t.Cleanup(func() {
		p.kill()
		if s.t.Failed() {
			s.t.Logf("log of agent process %s:\n%s", name, lastLines(p.log(s.t), 60))
		}
	})
	return p
}

// lastLines is the end of a log, for a failed test's output.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// kill ends the process without warning, as a crash or a VM reset would.
func (p *agentProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *agentProcess) log(t *testing.T) string {
	b, err := os.ReadFile(p.logPath)
	require.NoError(t, err)
	return string(b)
}

// TestAgentKilledMidStream: the agent process dies while SQL Server streams the backup
// through it. Temporal notices the missing heartbeats, retries the stream on the restarted
// agent, and the backup ends with exactly one recovery point and no garbage after a sweep.
// On either data path (on VDI the dead process's device set dies with it).
func TestAgentKilledMidStream(t *testing.T) {
	t.Parallel()
	onEachPathAtOnce(t, testAgentKilledMidStream)
}

func testAgentKilledMidStream(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Crashy", DataPages: 4096})
	require.NoError(t, err)
	_, err = db.Write(50)
	require.NoError(t, err)
	// The first stream stalls after 3 MiB, so the kill lands mid-stream.
	s.inst.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 3 << 20, Stall: 3 * time.Minute})
	first := s.startAgentProcess("agent-1")
	run := s.start(s.backupInput("Crashy", protocol.Full))

	require.Eventually(t, func() bool {
		var n int
		_ = s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.dm_exec_requests WHERE command = 'BACKUP DATABASE' AND percent_complete > 0").Scan(&n)
		return n == 1
	}, 2*time.Minute, 50*time.Millisecond, "the first attempt is streaming")
	first.kill()
	second := s.startAgentProcess("agent-2")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res protocol.BackupResult
	require.NoError(t, run.Get(ctx, &res))
	h := s.history(run.GetID(), run.GetRunID())
	assert.GreaterOrEqual(t, activityAttempts(h)[protocol.ActivityStreamBackup], int32(2))
	ms := s.points(vm, "Crashy")
	require.Len(t, ms, 1, "exactly one recovery point")
	require.Len(t, s.msdb("Crashy"), 1, "SQL Server completed one backup; the interrupted one is not in msdb")
	require.NoError(t, s.repo.DeepVerify(ctx, ms[0], s.key))
	s.requireOnPath(ms, s.sqlDB, "Crashy")
	s.requireNoGarbageAfterSweep()
	s.record("backup-agent-killed", h)
	// The dead agent's operation credential was cleaned up by the next one.
	var creds int
	require.NoError(t, s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.credentials").Scan(&creds))
	assert.Zero(t, creds)

	// Neither agent logged a secret.
	secrets := map[string]string{"SQL password": sqlPassword, "SAS signature": "sig=", "storage key": testenv.AzuriteKey}
	second.kill()
	for _, p := range []*agentProcess{first, second} {
		l := p.log(t)
		require.Contains(t, l, "worker running")
		assert.Empty(t, secretsIn(l, secrets), "secrets in %s", p.logPath)
	}
}
