//go:build unix

// Package devstack holds the `make run` stack (run.sh). Its test runs the script the way a
// person does and follows the instructions the script prints.
package devstack

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
)

const (
	upBanner  = "sqlvault stack is up"
	endBanner = "Ctrl-C stops everything."
)

// TestRunShBacksUpAndStopsCleanly starts run.sh on free ports with a fresh state directory,
// the agent endpoint on port 443 of a loopback address of its own (the tests run as root,
// as in CI), runs the commands its banner prints with the environment its banner prints,
// and checks that Ctrl-C (SIGINT to the script's process group, as a terminal sends it)
// leaves no process and no listener behind.
func TestRunShBacksUpAndStopsCleanly(t *testing.T) {
	runStack(t, "")
}

// TestRunShForwardsWhenTheEndpointIsNotOn443 runs the stack the way an ordinary user gets
// it (port 443 not allowed, here chosen with SQLVAULT_DEV_ENDPOINT_PORT): the endpoint binds
// another port, the simulator forwards 443 to it, the banner says so, and backups work
// with the same port-less URLs.
func TestRunShForwardsWhenTheEndpointIsNotOn443(t *testing.T) {
	runStack(t, "forwarded")
}

func runStack(t *testing.T, mode string) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	// The tools come from `make tools`; a missing one fails, never skips, so an unprepared
	// machine cannot pass by testing nothing.
	if _, err := os.Stat(filepath.Join(root, "bin", "temporal")); err != nil {
		t.Fatalf("%v", testenv.ErrTemporalMissing)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", ".bin", "azurite-blob")); err != nil {
		t.Fatalf("%v", testenv.ErrAzuriteMissing)
	}

	ports := freePorts(t, 6)
	stateDir := t.TempDir()
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	endpoint := listen // where the endpoint listens
	env := append(cleanEnv(),
		"SQLVAULT_DEV_DIR="+stateDir,
		"SQLVAULT_DEV_TEMPORAL_PORT="+strconv.Itoa(ports[0]),
		"SQLVAULT_DEV_UI_PORT="+strconv.Itoa(ports[1]),
		"SQLVAULT_DEV_AZURITE_PORT="+strconv.Itoa(ports[2]),
		"SQLVAULT_DEV_SQL_PORT="+strconv.Itoa(ports[3]),
		"SQLVAULT_DEV_ENDPOINT_ADDR="+testenv.LoopbackIP(listen),
		"SQLVAULT_DEV_CODEC_PORT="+strconv.Itoa(ports[5]),
	)
	if mode == "forwarded" {
		endpoint = net.JoinHostPort(testenv.LoopbackIP(listen), strconv.Itoa(ports[4]))
		env = append(env, "SQLVAULT_DEV_ENDPOINT_PORT="+strconv.Itoa(ports[4]))
	}
	ports = ports[:4]
	s := startScript(t, root, env)

	banner := s.waitFor(t, endBanner, 3*time.Minute)
	require.Contains(t, banner, upBanner)
	for _, p := range ports {
		assert.Contains(t, banner, ":"+strconv.Itoa(p), "the banner shows every address")
	}
	// SQL Server is given port-less URLs; the banner says where the endpoint really listens.
	assert.Contains(t, banner, "endpoint https://sqlvault-agent.local/ (listening on "+endpoint+")")
	if mode == "forwarded" {
		assert.Contains(t, banner, "simulator forwards "+listen+" to it")
	} else {
		assert.NotContains(t, banner, "forwards")
	}
	// The stack's data path is VDI: the stand-in libsqlvdi.so is there, so the instance,
	// which names none, gets the default, and the agent says so at start.
	assert.Contains(t, banner, "data path          vdi: BACKUP … TO VIRTUAL_DEVICE through the stand-in libsqlvdi.so")
	assert.NotContains(t, banner, "URL path", "no note that VDI is unavailable")
	workerLog, err := os.ReadFile(filepath.Join(stateDir, "logs", "worker.log"))
	require.NoError(t, err)
	assert.Regexp(t, `instance data path.*"instance": "SQLVM1", "dataPath": "vdi", "default": true, "why": "dataPath is not set and this machine has the VDI client library \(libsqlvdi.so at [^)]*\), so vdi`, string(workerLog))
	exports, commands := parseNextSteps(t, banner)
	assert.Equal(t, []string{
		"bin/sqlvault backup --instance SQLVM1 --database SalesDB --type full --wait",
		"bin/sqlvault list --instance SQLVM1 --database SalesDB",
		"bin/sqlvault restore --instance SQLVM1 --database SalesDB --point POINT --as-name SalesDB_copy --wait",
		"bin/temporal workflow list",
	}, commands)
	require.Contains(t, exports, "SQLVAULT_CONFIG")
	// The stock Temporal CLI is pointed at this stack's frontend too, wherever it was moved.
	assert.Equal(t, "127.0.0.1:"+strconv.Itoa(ports[0]), exports["TEMPORAL_ADDRESS"])
	envFile, err := os.ReadFile(filepath.Join(stateDir, "env"))
	require.NoError(t, err)
	assert.Contains(t, string(envFile), "export TEMPORAL_ADDRESS=127.0.0.1:"+strconv.Itoa(ports[0])+"\n")
	// The printed environment replaces the test's own: nothing else points the starter at
	// the stack.
	starterEnv := cleanEnv()
	for k, v := range exports {
		starterEnv = append(starterEnv, k+"="+v)
	}

	if mode == "" {
		// A crashed worker is restarted and the stack stays up (Temporal's in-memory
		// history with it): the backup below runs on the restarted worker.
		killWorker(t, s)
	}

	backupOut := runPrinted(t, root, starterEnv, commands[0])
	m := regexp.MustCompile(`(?m)^recovery point\s+(\S+)$`).FindStringSubmatch(backupOut)
	require.NotNil(t, m, "backup --wait prints the recovery point; got:\n%s", backupOut)
	point := m[1]
	assert.Contains(t, point, "-full-")
	assert.Regexp(t, `(?m)^database\s+SalesDB on SQLVM1`, backupOut)
	assert.Regexp(t, `(?m)^data path\s+vdi \(BACKUP … TO VIRTUAL_DEVICE\)$`, backupOut, "the point was written through VDI")

	listOut := runPrinted(t, root, starterEnv, commands[1])
	rows := strings.Split(strings.TrimSpace(listOut), "\n")[1:] // after the header
	require.Len(t, rows, 1, "exactly one recovery point; list printed:\n%s", listOut)
	assert.Equal(t, []string{point, "full"}, strings.Fields(rows[0])[:2])
	assert.Equal(t, "vdi", strings.Fields(rows[0])[len(strings.Fields(rows[0]))-1], "list's PATH column")

	// The restore the banner prints, of that point under a new name, through the same path.
	restoreOut := runPrinted(t, root, starterEnv, strings.Replace(commands[2], "POINT", point, 1))
	assert.Regexp(t, `(?m)^target\s+SalesDB_copy on SQLVM1$`, restoreOut)
	assert.Regexp(t, `(?m)^step 1\s+full `+regexp.QuoteMeta(point)+`$`, restoreOut)
	assert.Regexp(t, `(?m)^state\s+ONLINE$`, restoreOut)

	// bin/temporal, with the printed TEMPORAL_ADDRESS, sees this stack's workflows.
	workflows := runPrinted(t, root, starterEnv, commands[3])
	assert.Contains(t, workflows, protocol.BackupWorkflowID(vault.ItemID("SQLVM1", "SalesDB"), protocol.Full))
	// The control side holds the Azurite account key and the vault key, so the stream and the
	// restore step ran on grants it minted (README, "Least privilege"); it never said it could not.
	shown := runPrinted(t, root, starterEnv, "bin/temporal workflow show --output json --workflow-id "+
		protocol.BackupWorkflowID(vault.ItemID("SQLVM1", "SalesDB"), protocol.Full))
	assert.Contains(t, shown, protocol.ActivityMintVaultGrant)
	workerLog, err = os.ReadFile(filepath.Join(stateDir, "logs", "worker.log"))
	require.NoError(t, err)
	assert.NotContains(t, string(workerLog), "agents get no vault grants")

	jsonOut := runPrinted(t, root, starterEnv, commands[1]+" --json")
	var points []struct {
		PointID  string `json:"pointId"`
		Instance string `json:"instance"`
		Database string `json:"database"`
		Type     string `json:"type"`
		DataPath string `json:"dataPath"`
	}
	require.NoError(t, json.Unmarshal([]byte(jsonOut), &points), "list --json:\n%s", jsonOut)
	require.Len(t, points, 1)
	assert.Equal(t, point, points[0].PointID)
	assert.Equal(t, "SQLVM1", points[0].Instance)
	assert.Equal(t, "SalesDB", points[0].Database)
	assert.Equal(t, "full", points[0].Type)
	assert.Equal(t, "vdi", points[0].DataPath)

	// Ctrl-C. Record the script's descendants first: they run in process groups of their
	// own, so the script's group says nothing about them.
	children := descendants(t, s.cmd.Process.Pid)
	t.Cleanup(func() { killLeftovers(children) }) // a failed assertion below must not leak them
	names := make([]string, 0, len(children))
	for _, c := range children {
		names = append(names, c.name)
	}
	for _, want := range []string{"temporal", "node", "sqlsim", "sqlvault-worker"} {
		assert.Contains(t, names, want, "run.sh's children: %v", children)
	}
	require.NoError(t, syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT))
	exitErr := s.wait(t, 60*time.Second)
	var ee *exec.ExitError
	require.ErrorAs(t, exitErr, &ee, "run.sh exits non-zero after Ctrl-C")
	assert.Equal(t, 130, ee.ExitCode(), "run.sh exits like an interrupted program")
	assert.Contains(t, s.output(), ">> stopped")
	for _, c := range children {
		err := syscall.Kill(c.pid, 0)
		assert.ErrorIs(t, err, syscall.ESRCH, "%s (pid %d) still runs after Ctrl-C", c.name, c.pid)
	}
	addrs := []string{endpoint}
	for _, p := range ports {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	for _, a := range addrs {
		conn, err := net.DialTimeout("tcp", a, time.Second)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "something still listens on %s after Ctrl-C", a)
	}
}

// killWorker kills the stack's worker (SIGKILL, as a crash) and waits for run.sh to say it
// restarted it, with the exit status, while the rest of the stack stays up.
func killWorker(t *testing.T, s *script) {
	t.Helper()
	var worker []proc
	for _, c := range descendants(t, s.cmd.Process.Pid) {
		if isWorker(c) {
			worker = append(worker, c)
		}
	}
	require.Len(t, worker, 1, "one worker runs")
	before := len(s.output())
	require.NoError(t, syscall.Kill(worker[0].pid, syscall.SIGKILL))
	out := s.waitFor(t, "worker restarted (pid ", 60*time.Second)[before:]
	assert.Contains(t, out, "the worker exited (killed by signal KILL); restarting it in 1s (crash 1 of 5 allowed within a minute")
	select {
	case <-s.exited:
		t.Fatalf("run.sh ended when its worker was killed:\n%s", s.output())
	default:
	}
	var again []proc
	for _, c := range descendants(t, s.cmd.Process.Pid) {
		if isWorker(c) {
			again = append(again, c)
		}
	}
	require.Len(t, again, 1, "one worker runs again")
	assert.NotEqual(t, worker[0].pid, again[0].pid)
}

// TestRunShGivesUpOnAWorkerThatKeepsCrashing: a worker that crashes again and again is
// restarted with a growing back-off, and after 5 crashes within a minute the stack stops,
// saying why, instead of restarting it for ever.
func TestRunShGivesUpOnAWorkerThatKeepsCrashing(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	ports := freePorts(t, 5)
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	s := startScript(t, root, append(cleanEnv(),
		"SQLVAULT_DEV_CODEC_PORT="+strconv.Itoa(ports[4]),
		"SQLVAULT_DEV_DIR="+t.TempDir(),
		"SQLVAULT_DEV_TEMPORAL_PORT="+strconv.Itoa(ports[0]),
		"SQLVAULT_DEV_UI_PORT="+strconv.Itoa(ports[1]),
		"SQLVAULT_DEV_AZURITE_PORT="+strconv.Itoa(ports[2]),
		"SQLVAULT_DEV_SQL_PORT="+strconv.Itoa(ports[3]),
		"SQLVAULT_DEV_ENDPOINT_ADDR="+testenv.LoopbackIP(listen),
	))
	s.waitFor(t, endBanner, 3*time.Minute)
	for crash := 1; crash <= 4; crash++ {
		killWorkerOnce(t, s)
		out := s.waitFor(t, fmt.Sprintf("crash %d of 5 allowed within a minute", crash), 30*time.Second)
		assert.Contains(t, out, fmt.Sprintf("restarting it in %ds", 1<<(crash-1)), "the back-off doubles")
		// Restarted: the crash-th restart is announced, and its process runs.
		require.Eventually(t, func() bool {
			return strings.Count(s.output(), "worker restarted (pid ") == crash && len(workers(t, s)) == 1
		}, 30*time.Second, 100*time.Millisecond)
	}
	killWorkerOnce(t, s)
	exitErr := s.wait(t, 60*time.Second)
	require.Error(t, exitErr)
	out := s.finalOutput(t)
	assert.Contains(t, out, "sqlvault run: worker crashed 5 times within a minute (last: killed by signal KILL); not restarting it")
	assert.Contains(t, out, ">> stopped", "the rest of the stack is stopped")
}

// workers lists the stack's running worker processes.
func workers(t *testing.T, s *script) []proc {
	var ws []proc
	for _, c := range descendants(t, s.cmd.Process.Pid) {
		if isWorker(c) {
			ws = append(ws, c)
		}
	}
	return ws
}

// killWorkerOnce kills the one running worker with SIGKILL.
func killWorkerOnce(t *testing.T, s *script) {
	t.Helper()
	ws := workers(t, s)
	require.Len(t, ws, 1, "one worker runs")
	require.NoError(t, syscall.Kill(ws[0].pid, syscall.SIGKILL))
}

// TestRunShFailsOnAPortConflict: a port in use before the start is named at once; and one
// taken by another Temporal after that check (a second stack started at the same moment)
// makes run.sh fail naming it, never print "temporal ready" because the other server
// answered its readiness probe.
func TestRunShFailsOnAPortConflict(t *testing.T) {
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	temporalBin := filepath.Join(root, "bin", "temporal")
	if _, err := os.Stat(temporalBin); err != nil {
		t.Fatalf("%v", testenv.ErrTemporalMissing)
	}
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	stackEnv := func(ports []int) []string {
		return append(cleanEnv(),
			"SQLVAULT_DEV_DIR="+t.TempDir(),
			"SQLVAULT_DEV_TEMPORAL_PORT="+strconv.Itoa(ports[0]),
			"SQLVAULT_DEV_UI_PORT="+strconv.Itoa(ports[1]),
			"SQLVAULT_DEV_AZURITE_PORT="+strconv.Itoa(ports[2]),
			"SQLVAULT_DEV_SQL_PORT="+strconv.Itoa(ports[3]),
			"SQLVAULT_DEV_ENDPOINT_ADDR="+testenv.LoopbackIP(listen),
			"SQLVAULT_DEV_START_TIMEOUT=60",
			"SQLVAULT_DEV_CODEC_PORT="+strconv.Itoa(ports[4]),
		)
	}

	t.Run("taken before the start", func(t *testing.T) {
		ports := freePorts(t, 5)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[2]))
		require.NoError(t, err)
		defer l.Close()
		s := startScript(t, root, stackEnv(ports))
		exitErr := s.wait(t, 60*time.Second)
		require.Error(t, exitErr)
		out := s.finalOutput(t)
		assert.Contains(t, out, "port "+strconv.Itoa(ports[2])+" (Azurite) is already in use")
		assert.NotContains(t, out, ">> starting the stack", "nothing was started")
	})

	for _, c := range []struct {
		name  string
		taken int // which of run.sh's ports the other Temporal takes: 0 its frontend, 1 its Web UI
	}{{"frontend", 0}, {"web UI", 1}} {
		t.Run("taken by another Temporal after the check: "+c.name, func(t *testing.T) {
			portConflictAfterCheck(t, root, temporalBin, stackEnv, c.taken)
		})
	}
}

func portConflictAfterCheck(t *testing.T, root, temporalBin string, stackEnv func([]int) []string, taken int) {
	ports := freePorts(t, 7)
	// run.sh builds with $GO after its port checks: this go waits until the other
	// Temporal holds the port, so the race goes the same way every time.
	gate := filepath.Join(t.TempDir(), "open")
	goWrapper := filepath.Join(t.TempDir(), "go")
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(goWrapper, []byte("#!/bin/sh\nwhile [ ! -e '"+gate+"' ]; do sleep 0.1; done\nexec '"+goBin+"' \"$@\"\n"), 0o755))
	s := startScript(t, root, append(stackEnv([]int{ports[0], ports[1], ports[2], ports[3], ports[6]}), "GO="+goWrapper))
	s.waitFor(t, ">> building", 60*time.Second)

	// The other stack's frontend and UI: one of them is run.sh's.
	otherPorts := []int{ports[4], ports[5]}
	otherPorts[taken] = ports[taken]
	other := exec.Command(temporalBin, "server", "start-dev", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(otherPorts[0]), "--ui-port", strconv.Itoa(otherPorts[1]), "--log-level", "error")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, other.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-other.Process.Pid, syscall.SIGKILL)
		_ = other.Wait()
	})
	// Ready as run.sh's own probe judges it, so that probe would pass at once.
	require.Eventually(t, func() bool {
		return exec.Command(temporalBin, "operator", "namespace", "describe", "--address", "127.0.0.1:"+strconv.Itoa(otherPorts[0]),
			"--namespace", "default", "--command-timeout", "5s", "--disable-config-file", "--disable-config-env").Run() == nil
	}, 60*time.Second, 200*time.Millisecond, "the other Temporal is ready")
	require.NoError(t, os.WriteFile(gate, nil, 0o600))

	exitErr := s.wait(t, 3*time.Minute)
	out := s.finalOutput(t)
	require.Error(t, exitErr, "run.sh must fail:\n%s", out)
	assert.Contains(t, out, "temporal could not have port "+strconv.Itoa(ports[taken])+": another process listens there")
	assert.NotContains(t, out, "temporal ready", "the other server's answer is not this stack's readiness")
	assert.NotContains(t, out, upBanner)
	assert.Nil(t, syscall.Kill(other.Process.Pid, 0), "the other Temporal is left running")
}

// script is run.sh running in its own process group, with its output collected.
type script struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the script has exited; then err is its result
	exitErr error

	mu      sync.Mutex
	out     bytes.Buffer
	changed chan struct{} // closed and replaced on every line
	eof     bool
}

func startScript(t *testing.T, root string, env []string) *script {
	cmd := exec.Command(filepath.Join(root, "internal", "testworld", "devstack", "run.sh"))
	cmd.Dir = root
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // what a terminal does for a foreground job
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	require.NoError(t, cmd.Start())
	s := &script{cmd: cmd, exited: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		s.exitErr = cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.eof = true
		close(s.changed)
		s.mu.Unlock()
	}()
	// If the test fails half-way the stack must still go: ask the script to stop its
	// services, and kill whatever is left.
	t.Cleanup(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		left := descendants(t, cmd.Process.Pid)
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(45 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		killLeftovers(left)
		t.Logf("run.sh output:\n%s", s.output())
	})
	return s
}

// killLeftovers kills what is still running of procs, with their process groups (each
// service leads one). A pid whose command changed has been reused by some other process and
// is left alone.
func killLeftovers(procs []proc) {
	for _, c := range procs {
		out, err := exec.Command("ps", "-o", "comm=", "-p", strconv.Itoa(c.pid)).Output()
		if err != nil || filepath.Base(strings.TrimSpace(string(out))) != c.name {
			continue
		}
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		_ = syscall.Kill(c.pid, syscall.SIGKILL)
	}
}

// finalOutput is the whole output of a script that has exited.
func (s *script) finalOutput(t *testing.T) string {
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		t.Fatalf("run.sh still runs:\n%s", s.output())
	}
	for {
		s.mu.Lock()
		out, eof, changed := s.out.String(), s.eof, s.changed
		s.mu.Unlock()
		if eof {
			return out
		}
		<-changed
	}
}

func (s *script) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// waitFor returns the output up to and including the first line holding want.
func (s *script) waitFor(t *testing.T, want string, timeout time.Duration) string {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		out, eof, changed := s.out.String(), s.eof, s.changed
		s.mu.Unlock()
		if i := strings.Index(out, want); i >= 0 {
			return out[:i+len(want)]
		}
		if eof {
			t.Fatalf("run.sh ended before printing %q:\n%s", want, out)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("run.sh did not print %q within %s:\n%s", want, timeout, out)
		}
	}
}

func (s *script) wait(t *testing.T, timeout time.Duration) error {
	select {
	case <-s.exited:
		return s.exitErr
	case <-time.After(timeout):
		t.Fatalf("run.sh still runs %s after Ctrl-C:\n%s", timeout, s.output())
		return nil
	}
}

// parseNextSteps reads the banner's "export NAME='value'" lines and the starter commands.
func parseNextSteps(t *testing.T, banner string) (map[string]string, []string) {
	exports := map[string]string{}
	var commands []string
	exportLine := regexp.MustCompile(`^export ([A-Z_][A-Z0-9_]*)=(.*)$`)
	for _, l := range strings.Split(banner, "\n") {
		l = strings.TrimSpace(l)
		if m := exportLine.FindStringSubmatch(l); m != nil {
			v, err := unquote(m[2])
			require.NoError(t, err, "banner line %q", l)
			exports[m[1]] = v
		}
		if strings.HasPrefix(l, "bin/sqlvault ") || strings.HasPrefix(l, "bin/temporal ") {
			commands = append(commands, l)
		}
	}
	return exports, commands
}

// unquote undoes the shell quoting run.sh prints: a sequence of bare words and
// single-quoted strings (where '\” is how a quote is written).
func unquote(s string) (string, error) {
	var b strings.Builder
	for len(s) > 0 {
		switch {
		case s[0] == '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return "", errors.New("unterminated single quote")
			}
			b.WriteString(s[1 : 1+end])
			s = s[2+end:]
		case s[0] == '\\' && len(s) > 1:
			b.WriteByte(s[1])
			s = s[2:]
		case strings.ContainsRune(" \t\"$`", rune(s[0])):
			return "", fmt.Errorf("unexpected %q: not a single shell word", s[0])
		default:
			b.WriteByte(s[0])
			s = s[1:]
		}
	}
	return b.String(), nil
}

// runPrinted runs one printed command line (plain words, as the banner prints them) in the
// repository root, as a person would paste it.
func runPrinted(t *testing.T, root string, env []string, line string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := strings.Fields(line)
	cmd := exec.CommandContext(ctx, filepath.Join(root, args[0]), args[1:]...)
	cmd.Dir, cmd.Env = root, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s\nstdout:\n%s\nstderr:\n%s", line, stdout.String(), stderr.String())
	return stdout.String()
}

// cleanEnv is the test's environment without SQLVAULT_* variables, so that only what the
// test (or the banner) sets reaches the script and the starter.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SQLVAULT_") {
			env = append(env, kv)
		}
	}
	return env
}

// freePorts returns n distinct ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	seen := map[int]bool{}
	var ports []int
	for len(ports) < n {
		p, err := testenv.FreePort()
		require.NoError(t, err)
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports
}

type proc struct {
	pid  int
	name string
}

// isWorker: the stack's worker, not its codec server (the same binary, `codec-server`).
func isWorker(p proc) bool {
	if p.name != "sqlvault-worker" {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
	return err != nil || !strings.Contains(string(cmdline), "codec-server")
}

func (p proc) String() string { return fmt.Sprintf("%s(%d)", p.name, p.pid) }

// descendants lists every process below pid, from ps (Linux and macOS alike).
func descendants(t *testing.T, pid int) []proc {
	out, err := exec.Command("ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "comm=").Output()
	require.NoError(t, err, "ps")
	children := map[int][]proc{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		p, err1 := strconv.Atoi(f[0])
		pp, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		children[pp] = append(children[pp], proc{pid: p, name: filepath.Base(strings.Join(f[2:], " "))})
	}
	var all []proc
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			all = append(all, c)
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return all
}
