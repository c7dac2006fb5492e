package bench

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

var agentBin struct {
	sync.Once
	path string
	err  error
}

// buildAgentbench builds cmd/agentbench once per test binary.
func buildAgentbench(tb testing.TB) string {
	agentBin.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			agentBin.err = err
			return
		}
		dir, err := os.MkdirTemp("", "sqlvault-agentbench-")
		if err != nil {
			agentBin.err = err
			return
		}
		agentBin.path = filepath.Join(dir, "agentbench")
		cmd := exec.Command("go", "build", "-o", agentBin.path, "./internal/testworld/bench/cmd/agentbench")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			agentBin.err = &buildError{err: err, out: string(out)}
		}
	})
	require.NoError(tb, agentBin.err)
	return agentBin.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "build agentbench: " + e.err.Error() + "\n" + e.out }

// agentProc is an agentbench process serving one simulator host.
type agentProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startAgentProc starts the agent as a separate process. store is "discard" or "file"; env
// is added to the process's environment.
func (h *simHost) startAgentProc(tb testing.TB, store string, env ...string) *agentProc {
	tb.Helper()
	bin := buildAgentbench(tb)
	args := []string{"-host", agentHost, "-listen", h.endpointAddr(tb), "-cert", h.certFile, "-key", h.keyFile, "-dsn", h.dsn,
		"-instance", h.inst.ServerName(), "-store", store}
	if store == "file" {
		args = append(args, "-dir", tempDir(tb, "sqlvault-bench-vault-"))
	}
	if h.vdiLib != "" {
		args = append(args, "-vdi-lib", h.vdiLib)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), env...)
	in, err := cmd.StdinPipe()
	require.NoError(tb, err)
	out, err := cmd.StdoutPipe()
	require.NoError(tb, err)
	require.NoError(tb, cmd.Start())
	p := &agentProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	p.out.Buffer(make([]byte, 1<<20), 16<<20)
	tb.Cleanup(p.stop)
	return p
}

func (p *agentProc) do(tb testing.TB, c AgentCommand) AgentReply {
	tb.Helper()
	line, err := json.Marshal(c)
	require.NoError(tb, err)
	_, err = p.in.Write(append(line, '\n'))
	require.NoError(tb, err)
	require.True(tb, p.out.Scan(), "agentbench exited: %v", p.out.Err())
	var rep AgentReply
	require.NoError(tb, json.Unmarshal(p.out.Bytes(), &rep))
	require.Empty(tb, rep.Error, "agentbench %s", c.Op)
	return rep
}

func (p *agentProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_, _ = p.in.Write([]byte(`{"op":"quit"}` + "\n"))
	_ = p.in.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
