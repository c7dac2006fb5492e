package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Azurite's well-known development account (public, documented by Microsoft).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ErrAzuriteMissing means node_modules has no Azurite: the developer has not run `make tools`.
var ErrAzuriteMissing = errors.New("testenv: node_modules/.bin/azurite-blob not found: run make tools (npm ci)")

// AzuriteOptions configures StartAzurite. With TLSCert and TLSKey (PEM files, e.g. from
// CA.Issue) Azurite serves HTTPS.
type AzuriteOptions struct {
	TLSCert, TLSKey string
	// Listen is the ip:port Azurite binds, e.g. from Loopback443 when the simulator's blob
	// client (which, like SQL Server, accepts no port in a URL) talks to it; empty means
	// 127.0.0.1 on a free port.
	Listen string
	// StartTimeout bounds the wait for Azurite to answer; 0 means 30 s.
	StartTimeout time.Duration
}

// Azurite is a running Azurite blob service.
type Azurite struct {
	BlobEndpoint     string // http(s)://ip:port/devstoreaccount1
	IP               string // the address it listens on (127.0.0.1 unless Listen said otherwise)
	Port             int
	Account, Key     string
	ConnectionString string
	LogFile          string // Azurite's console output (access log), for debugging failures

	mu   sync.Mutex
	proc *azuriteProc
	bin  string
	args []string
	base string
}

type azuriteProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func launchAzurite(bin string, args []string, logPath string) (*azuriteProc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = processGroupAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("testenv: start %s: %w", bin, err)
	}
	p := &azuriteProc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.exited) }()
	return p, nil
}

// Outage stops the Azurite process but keeps its data, so requests fail as if the storage
// account were unreachable. The returned func starts it again on the same port and waits
// until it answers.
func (a *Azurite) Outage() (restore func() error) {
	a.mu.Lock()
	if a.proc != nil {
		killGroup(a.proc.cmd.Process, a.proc.exited)
		a.proc = nil
	}
	a.mu.Unlock()
	return func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		p, err := launchAzurite(a.bin, a.args, a.LogFile)
		if err != nil {
			return err
		}
		a.proc = p
		return waitHTTP(a.base, 30*time.Second, p.exited)
	}
}

// AzuriteT starts Azurite for one test (or benchmark) and stops it on t.Cleanup. A missing
// binary fails the test rather than skipping it: a skipped storage test would hide that the
// machine is not set up.
func AzuriteT(t testing.TB, opts AzuriteOptions) *Azurite {
	t.Helper()
	az, stop, err := StartAzurite(opts)
	if err != nil {
		t.Fatalf("%v", err) // ErrAzuriteMissing says "run make tools"
	}
	t.Cleanup(stop)
	return az
}

// StartAzurite starts azurite-blob from the repository's node_modules on 127.0.0.1 with a
// free port and a temporary workspace, and waits until it answers HTTP. The returned stop
// func kills its process group and removes the workspace; it is safe to call more than once.
// This form suits TestMain, which has no testing.TB.
func StartAzurite(opts AzuriteOptions) (*Azurite, func(), error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	bin := filepath.Join(root, "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		return nil, nil, ErrAzuriteMissing
	}
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		return nil, nil, errors.New("testenv: AzuriteOptions needs both TLSCert and TLSKey, or neither")
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	// FreePort (and Loopback443) can race with another process taking the port; a couple
	// of retries make that a non-event.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		az, stop, err := startAzuriteOnce(bin, opts, timeout)
		if err == nil {
			return az, stop, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, nil, lastErr
}

var errExitedEarly = errors.New("azurite exited during start-up")

func startAzuriteOnce(bin string, opts AzuriteOptions, timeout time.Duration) (*Azurite, func(), error) {
	ip, port := "127.0.0.1", 0
	if opts.Listen != "" {
		h, p, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, nil, fmt.Errorf("testenv: AzuriteOptions.Listen %q: %w", opts.Listen, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, nil, fmt.Errorf("testenv: AzuriteOptions.Listen %q: bad port", opts.Listen)
		}
		ip = h
	} else {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, nil, err
		}
	}
	dir, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: %w", err)
	}
	logPath := filepath.Join(dir, "azurite.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("testenv: %w", err)
	}
	args := []string{
		"--blobHost", ip,
		"--blobPort", strconv.Itoa(port),
		"--location", filepath.Join(dir, "data"),
		// SQL Server speaks an old x-ms-version and azblob a newer one than Azurite knows.
		"--skipApiVersionCheck",
		// Test URLs use made-up host names (blob.sqlsim.test); without this Azurite would
		// take "blob" from the host as the account name.
		"--disableProductStyleUrl",
		"--disableTelemetry",
	}
	scheme := "http"
	if opts.TLSCert != "" {
		args = append(args, "--cert", opts.TLSCert, "--key", opts.TLSKey)
		scheme = "https"
	}
	logFile.Close()
	proc, err := launchAzurite(bin, args, logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	az := &Azurite{proc: proc, bin: bin, args: args}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			az.mu.Lock()
			if az.proc != nil {
				killGroup(az.proc.cmd.Process, az.proc.exited)
				az.proc = nil
			}
			az.mu.Unlock()
			os.RemoveAll(dir)
		})
	}
	exited := proc.exited

	base := fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(ip, strconv.Itoa(port)))
	if err := waitHTTP(base, timeout, exited); err != nil {
		out, _ := os.ReadFile(logPath)
		stop()
		return nil, nil, fmt.Errorf("testenv: Azurite on %s:%d: %w; log:\n%s", ip, port, err, tail(out, 2000))
	}
	endpoint := base + "/" + AzuriteAccount
	az.BlobEndpoint, az.IP, az.Port, az.Account, az.Key = endpoint, ip, port, AzuriteAccount, AzuriteKey
	az.ConnectionString = fmt.Sprintf("DefaultEndpointsProtocol=%s;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		scheme, AzuriteAccount, AzuriteKey, endpoint)
	az.LogFile, az.base = logPath, base
	return az, stop, nil
}

// waitHTTP polls until the server answers any HTTP response (Azurite answers 400 to a bare
// GET /, which is enough to know it is serving).
func waitHTTP(base string, timeout time.Duration, exited <-chan struct{}) error {
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			// Only a liveness probe: the caller's CA is not known here, and nothing is sent.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errExitedEarly
		case <-ctx.Done():
			return fmt.Errorf("not answering after %s", timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
