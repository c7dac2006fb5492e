package acceptance

import (
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb" // the driver SQL Server clients use
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// Environment variables that point the suite at a real SQL Server and its surroundings
// (README, "Acceptance suite on a real SQL Server").
const (
	envDSN             = "SQLVAULT_ACCEPTANCE_DSN"                // go-mssqldb connection string of a sysadmin login
	envEndpointHost    = "SQLVAULT_ACCEPTANCE_ENDPOINT_HOST"      // DNS name SQL Server resolves to the agent [sqlvault-agent.local]
	envEndpointListen  = "SQLVAULT_ACCEPTANCE_ENDPOINT_LISTEN"    // address the agent's endpoint binds [127.0.0.5:443]
	envEndpointCert    = "SQLVAULT_ACCEPTANCE_ENDPOINT_CERT_FILE" // certificate for the host, issued by a CA SQL Server trusts
	envEndpointKey     = "SQLVAULT_ACCEPTANCE_ENDPOINT_KEY_FILE"
	envVM              = "SQLVAULT_ACCEPTANCE_VM"                      // the agent's VM name (task queue) [<machine>-acceptance]
	envTemporal        = "SQLVAULT_ACCEPTANCE_TEMPORAL_ADDRESS"        // a Temporal frontend [a dev server started from bin/temporal]
	envNamespace       = "SQLVAULT_ACCEPTANCE_TEMPORAL_NAMESPACE"      // [default]
	envVaultConnection = "SQLVAULT_ACCEPTANCE_VAULT_CONNECTION_STRING" // Azure Storage / Azurite [Azurite started from node_modules]
	// agentDSNVar carries the DSN to the worker process, referenced by its config file, so
	// the password is never written to disk.
	agentDSNVar = "SQLVAULT_ACCEPTANCE_AGENT_DSN"
)

// simEndpointHost is the agent endpoint's name when the suite runs the simulator itself.
const simEndpointHost = "agent.acceptance.sqlvault.test"

// target is one deployment the scenarios run on: a SQL Server, Temporal, a vault, and the
// product's worker (control + agent) and starter, configured as a user configures them.
type target struct {
	t            *testing.T
	real         bool // a SQL Server given by SQLVAULT_ACCEPTANCE_DSN, not the simulator
	dir          string
	dsn          string
	sql          *sql.DB
	instance     string // @@SERVERNAME
	vm           string
	temporal     string
	namespace    string
	controlQueue string
	vaultConn    string
	container    string
	keyFile      string
	starterBin   string
}

// newTarget sets everything up and starts the worker; cleanup stops what it started.
func newTarget(t *testing.T) *target {
	tg := &target{t: t, dir: t.TempDir(), namespace: "default", controlQueue: "sqlvault-acceptance"}
	tg.dsn = os.Getenv(envDSN)
	tg.real = tg.dsn != ""
	host, listen := os.Getenv(envEndpointHost), os.Getenv(envEndpointListen)
	certFile, keyFile := os.Getenv(envEndpointCert), os.Getenv(envEndpointKey)
	if tg.real {
		if host == "" {
			host = "sqlvault-agent.local"
		}
		if listen == "" {
			listen = "127.0.0.5:443" // the agent's default (config: agent.endpoint.listen)
		}
		if certFile == "" || keyFile == "" {
			t.Fatalf("%s is set, so the suite runs against that SQL Server, whose BACKUP … TO URL must reach the agent over HTTPS: set %s and %s to a certificate for %s (%s) issued by a CA that SQL Server trusts (see the README's acceptance section; `sqlvault-worker cert generate` makes one)",
				envDSN, envEndpointCert, envEndpointKey, host, envEndpointHost)
		}
	} else {
		host = simEndpointHost
		var caFile string
		var err error
		certFile, keyFile, caFile, err = endpoint.GenerateSelfSigned(host, filepath.Join(tg.dir, "certs"))
		require.NoError(t, err)
		caPEM, err := os.ReadFile(caFile)
		require.NoError(t, err)
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(caPEM))
		// URLs SQL Server is given carry no port: the endpoint takes port 443 of a loopback
		// address of its own, and the simulated VM's hosts file maps the name to it.
		addr, err := testenv.Loopback443()
		require.NoError(t, err)
		listen = addr
		sim := sqlsim.New(sqlsim.Config{TrustedRoots: pool, Resolve: map[string]string{host: testenv.LoopbackIP(addr)}})
		t.Cleanup(func() { _ = sim.Close() })
		const login, password = "sqlvault_acceptance", "Acc3ptance-Pa55word!"
		inst, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "ACCVM", Logins: []sqlsim.Login{{Name: login, Password: password, Sysadmin: true}}})
		require.NoError(t, err)
		tg.dsn = inst.DSN(login, password, "")
	}

	var err error
	tg.sql, err = sql.Open("sqlserver", tg.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tg.sql.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, tg.sql.QueryRowContext(ctx, "SELECT @@SERVERNAME").Scan(&tg.instance), "connect to SQL Server with %s", envDSN)
	tg.vm = os.Getenv(envVM)
	if tg.vm == "" {
		machine, _, _ := strings.Cut(tg.instance, `\`)
		tg.vm = machine + "-acceptance"
	}

	if tg.temporal = os.Getenv(envTemporal); tg.temporal != "" {
		if ns := os.Getenv(envNamespace); ns != "" {
			tg.namespace = ns
		}
	} else {
		tp := testenv.TemporalT(t)
		tg.temporal, tg.namespace = tp.HostPort, tp.Namespace
	}
	if tg.vaultConn = os.Getenv(envVaultConnection); tg.vaultConn == "" {
		tg.vaultConn = testenv.AzuriteT(t, testenv.AzuriteOptions{}).ConnectionString
	}
	tg.container = fmt.Sprintf("acceptance-%d", time.Now().UnixNano())
	tg.keyFile = filepath.Join(tg.dir, "vault.key")
	_, err = blockcrypt.GenerateKeyFile(tg.keyFile)
	require.NoError(t, err)

	bins, err := testenv.BuildCommands(filepath.Join(tg.dir, "bin"), "./cmd/sqlvault-worker", "./cmd/sqlvault")
	require.NoError(t, err)
	tg.starterBin = bins["sqlvault"]
	tg.startWorker(bins["sqlvault-worker"], host, listen, certFile, keyFile)
	return tg
}

// productEnv is the environment the product's commands get: this process's, without any
// SQLVAULT_* setting left in the shell (it would silently override the suite's files), plus
// extra.
func productEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SQLVAULT_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startWorker writes a worker configuration (role both) and runs the worker binary with it.
func (tg *target) startWorker(bin, host, listen, certFile, keyFile string) {
	t := tg.t
	cfg := fmt.Sprintf(`role: both
temporal:
  address: %q
  namespace: %q
  controlTaskQueue: %q
  # The suite's Temporal (a dev server, or the compose network's) has no TLS.
  allowPlaintext: true
vault:
  container: %q
  auth: connectionString
  connectionString: {env: SQLVAULT_VAULT_CONNECTION_STRING}
  createContainer: true
key:
  file: %q
agent:
  vm: %q
  endpoint:
    host: %q
    listen: %q
    certFile: %q
    keyFile: %q
  instances:
    - name: %q
      dsn: {env: %s}
log:
  level: debug
  format: json
`, tg.temporal, tg.namespace, tg.controlQueue, tg.container, tg.keyFile, tg.vm, host, listen, certFile, keyFile, tg.instance, agentDSNVar)
	cfgPath := filepath.Join(tg.dir, "worker.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	logPath := filepath.Join(tg.dir, "worker.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Env = productEnv("SQLVAULT_VAULT_CONNECTION_STRING="+tg.vaultConn, agentDSNVar+"="+tg.dsn)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("worker log (last 8 KiB):\n%s", tail(b, 8<<10))
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if bytes.Contains(b, []byte("worker running")) {
			return
		}
		select {
		case <-done:
			t.Fatalf("the worker exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not report \"worker running\" within 90 s:\n%s", tail(b, 8<<10))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// starter runs the CLI against the deployment, configured by environment as a user would.
func (tg *target) starter(args ...string) (stdout string, err error) {
	cmd := exec.Command(tg.starterBin, args...)
	cmd.Env = productEnv(
		"SQLVAULT_TEMPORAL_ADDRESS="+tg.temporal,
		"SQLVAULT_TEMPORAL_NAMESPACE="+tg.namespace,
		"SQLVAULT_CONTROL_TASK_QUEUE="+tg.controlQueue,
		"SQLVAULT_VAULT_AUTH=connectionString",
		"SQLVAULT_VAULT_CONNECTION_STRING="+tg.vaultConn,
		"SQLVAULT_VAULT_CONTAINER="+tg.container,
		"SQLVAULT_KEY_FILE="+tg.keyFile,
	)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("starter %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}
