// Package e2e runs sqlvault end to end on the real parts: the Temporal dev server (the CLI
// built by `make tools`), Azurite, the SQL Server simulator, the agent's HTTPS endpoint and
// the workers — in-process, or as separate worker processes where a test kills one.
package e2e

import (
	"context"
	"crypto/x509"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
	"github.com/sqlvault/sqlvault/workflows"
)

const (
	agentHost = "agent.sqlvault.test"
	vm        = "SQLVM1"
	sqlLogin  = "sqlvault"
	// sqlPassword is a secret the tests look for in every history and log line.
	sqlPassword = "Sq1-Secr3t-Pa55word!"
)

// stack is one full sqlvault deployment on loopback.
type stack struct {
	t         *testing.T
	temporal  *testenv.Temporal
	azurite   *testenv.Azurite
	sim       *sqlsim.Simulator
	clock     *sqlsim.ManualClock
	inst      *sqlsim.Instance
	repo      *vault.Repository
	key       *blockcrypt.Key
	keyFile   string
	certDir   string
	certFile  string
	keyPEM    string
	caFile    string
	logs      *observer.ObservedLogs
	log       *zap.Logger
	tc        client.Client
	sqlDB     *sql.DB
	container string

	// path is the data path of the stack's agents' instances (onPath; default URL).
	path datapath.Kind

	agentMu sync.Mutex
	agent   *agentRun
	// nowOffset moves the control side's clock (retention's "now") ahead of the simulator's.
	nowOffset time.Duration
}

type agentRun struct {
	w worker.Worker
	a *agent.Agent
}

var (
	shared     *sharedServices
	sharedOnce sync.Once
)

// sharedServices are the slow-to-start services, one set per test binary.
type sharedServices struct {
	temporal *testenv.Temporal
	azurite  *testenv.Azurite
	err      error
}

func TestMain(m *testing.M) {
	flag.Parse()
	raiseParallel()
	if cfg := os.Getenv(agentChildConfigEnv); cfg != "" {
		// This process is an agent a test started (startAgentProcess on the VDI path).
		if err := runAgentChild(cfg, os.Getenv(agentChildLibraryEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "agent:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	cleanup, err := shareVDIDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if shared != nil {
		stopShared()
	}
	cleanup()
	os.Exit(code)
}

var stopFns []func()

func stopShared() {
	for _, f := range stopFns {
		f()
	}
}

func services(t *testing.T) *sharedServices {
	sharedOnce.Do(func() {
		shared = &sharedServices{}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		tp, stopT, err := testenv.StartTemporalWith(ctx, testenv.TemporalOptions{Namespaces: stackNamespaces()})
		if err != nil {
			shared.err = err
			return
		}
		stopFns = append(stopFns, stopT)
		az, stopA, err := testenv.StartAzurite(testenv.AzuriteOptions{})
		if err != nil {
			shared.err = err
			return
		}
		stopFns = append(stopFns, stopA)
		shared.temporal, shared.azurite = tp, az
	})
	if shared.err != nil {
		t.Fatalf("%v", shared.err)
	}
	return shared
}

var containerSeq struct {
	sync.Mutex
	n int
}

// namespacePool is how many namespaces the dev server creates for stacks (one each, see
// newStack); creating them costs about a second at start. A package that builds more
// stacks than this fails in newStack and says to raise it.
const namespacePool = 240

func stackNamespaces() []string {
	out := make([]string, namespacePool)
	for i := range out {
		out[i] = stackNamespace(i + 1)
	}
	return out
}

func stackNamespace(n int) string { return fmt.Sprintf("e2e-%03d", n) }

// defaultParallel is how many tests that call t.Parallel run at once when go test is not
// told (-parallel). Most e2e tests spend their time waiting (for Temporal to dispatch a
// task, a heartbeat timeout, a retry's backoff, a stalled stream), not computing, so more
// run at once than the machine has cores (go test's default).
const defaultParallel = 8

// raiseParallel sets -test.parallel to SQLVAULT_E2E_PARALLEL, or defaultParallel, unless
// the command line set it.
func raiseParallel() {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if set {
		return
	}
	n := defaultParallel
	if v, err := strconv.Atoi(os.Getenv("SQLVAULT_E2E_PARALLEL")); err == nil && v > 0 {
		n = v
	}
	if n > runtime.GOMAXPROCS(0) {
		_ = flag.Set("test.parallel", strconv.Itoa(n))
	}
}

// newStack builds a stack with its own vault container, simulator and in-process workers.
// stackConfig is what a test may change of a stack's simulated server.
type stackConfig struct {
	start time.Time      // the simulator clock's start
	zone  *time.Location // the instance's time zone (nil: UTC)
	path  datapath.Kind  // the agents' data path (empty: URL)
	// ownAzurite gives the stack an Azurite of its own (withOwnAzurite).
	ownAzurite bool
}

type stackOption func(*stackConfig)

// inZone puts the stack's instance on a VM whose clock runs in loc.
func inZone(loc *time.Location) stackOption { return func(c *stackConfig) { c.zone = loc } }

// startingAt starts the simulator's clock at t.
func startingAt(t time.Time) stackOption { return func(c *stackConfig) { c.start = t } }

// onPath runs the stack's agents with their instances on data path k (agent.instances[].dataPath).
func onPath(k datapath.Kind) stackOption { return func(c *stackConfig) { c.path = k } }

// withOwnAzurite gives the stack an Azurite of its own instead of the package's, for a test
// that stops it (Azurite.Outage) while other tests use theirs.
func withOwnAzurite() stackOption { return func(c *stackConfig) { c.ownAzurite = true } }

func newStack(t *testing.T, opts ...stackOption) *stack {
	cfg := stackConfig{start: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), path: datapath.URL}
	for _, o := range opts {
		o(&cfg)
	}
	svc := services(t)
	containerSeq.Lock()
	containerSeq.n++
	n := containerSeq.n
	containerSeq.Unlock()
	container := fmt.Sprintf("vault-%d-%d", os.Getpid(), n)
	require.LessOrEqual(t, n, namespacePool, "more stacks than namespaces: raise namespacePool in harness_test.go")
	// Each stack has a Temporal namespace of its own, so tests can run side by side (t.Parallel):
	// the IDs sqlvault fixes per namespace (the retention and rediscover schedules, the drill
	// planner, an item's schedules and workflows) never meet another test's.
	tp := *svc.temporal
	tp.Namespace = stackNamespace(n)
	azurite := svc.azurite
	if cfg.ownAzurite {
		azurite = testenv.AzuriteT(t, testenv.AzuriteOptions{})
	}

	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	s := &stack{t: t, temporal: &tp, azurite: azurite, logs: logs, log: log, container: container, path: cfg.path}
	dir := t.TempDir()

	var err error
	s.keyFile = filepath.Join(dir, "vault.key")
	s.key, err = blockcrypt.GenerateKeyFile(s.keyFile)
	require.NoError(t, err)
	s.certDir = filepath.Join(dir, "certs")
	require.NoError(t, os.MkdirAll(s.certDir, 0o700))
	s.certFile, s.keyPEM, s.caFile, err = endpoint.GenerateSelfSigned(agentHost, s.certDir)
	require.NoError(t, err)
	caPEM, err := os.ReadFile(s.caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))

	s.clock = sqlsim.NewManualClock(cfg.start)
	// No shared name resolution: each agent listens on port 443 of a loopback address of its
	// own and its instance's machine maps agentHost there (startAgentFor), as each VM's hosts
	// file does.
	s.sim = sqlsim.New(sqlsim.Config{Clock: s.clock, TrustedRoots: pool})
	t.Cleanup(func() { _ = s.sim.Close() })
	s.inst, err = s.sim.StartInstance(sqlsim.InstanceConfig{Machine: vm, Logins: []sqlsim.Login{{Name: sqlLogin, Password: sqlPassword, Sysadmin: true}},
		Location: cfg.zone})
	require.NoError(t, err)
	s.sqlDB, err = sql.Open("sqlserver", s.inst.DSN(sqlLogin, sqlPassword, ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.sqlDB.Close() })

	ctx := context.Background()
	store, err := azstore.New(ctx, azstore.Config{ConnectionString: s.azurite.ConnectionString, Container: container, CreateContainer: true})
	require.NoError(t, err)
	// The control side's keyring, as the worker builds it (worker/run.go): the key file,
	// and the data keys a rotation adds to the vault.
	s.repo = vault.NewRepository(store, log)
	ring, err := keys.FromConfig(config.Key{File: s.keyFile}, s.repo)
	require.NoError(t, err)
	s.repo = s.repo.WithKeys(ring)

	s.tc, err = client.Dial(client.Options{HostPort: s.temporal.HostPort, Namespace: s.temporal.Namespace,
		Logger: temporalx.NewZapLogger(log)})
	require.NoError(t, err)
	t.Cleanup(s.tc.Close)
	return s
}

// controlQueue is unique per stack so parallel stacks never share workflows.
func (s *stack) controlQueue() string { return "control-" + s.container }

// agentQueueVM is the VM name the stack's agent polls for; unique per stack too.
func (s *stack) agentVM() string { return vm + "-" + s.container }

// startControl runs the control worker in-process.
func (s *stack) startControl() {
	w := worker.New(s.tc, s.controlQueue(), worker.Options{})
	workflows.Register(w)
	(&control.Control{Vault: s.repo, Log: s.log, Temporal: s.tc, ControlQueue: s.controlQueue(),
		Now: func() time.Time { return s.clock.Now().Add(s.nowOffset) }}).Register(w)
	require.NoError(s.t, w.Start())
	s.t.Cleanup(w.Stop)
}

// startAgent runs the agent in-process: its endpoint, its SQL connection, its worker.
func (s *stack) startAgent() { s.startAgentFor(s.inst, vm, s.agentVM()) }

// startAgentFor runs an in-process agent for one instance on VM vmName.
func (s *stack) startAgentFor(inst *sqlsim.Instance, name, vmName string) {
	a := s.newAgent(inst, name, vmName, nil)
	w := a.NewWorker(s.tc, agentWorkerOptions())
	require.NoError(s.t, w.Start())
	if inst != s.inst {
		s.t.Cleanup(func() { w.Stop(); a.Close() })
		return
	}
	s.agentMu.Lock()
	s.agent = &agentRun{w: w, a: a}
	s.agentMu.Unlock()
	s.t.Cleanup(s.stopAgent)
}

// newAgent builds an in-process agent for one instance on VM vmName with agent.New (the
// worker's own wiring) on a fresh loopback address, which inst's hosts entry then names.
// tune, when set, adjusts the options first.
func (s *stack) newAgent(inst *sqlsim.Instance, name, vmName string, tune func(*agent.Options)) *agent.Agent {
	listen, err := testenv.Loopback443()
	require.NoError(s.t, err)
	o := agent.Options{VM: vmName, Vault: s.repo, Key: s.key, Log: s.log, HeartbeatEvery: time.Second,
		Endpoint:     endpoint.Options{Host: agentHost, Listen: listen, CertFile: s.certFile, KeyFile: s.keyPEM, Logger: s.log},
		RestoreRoots: []string{os.TempDir()}, // t.TempDir() folders
		Instances:    []agent.InstanceDSN{{Name: name, DSN: inst.DSN(sqlLogin, sqlPassword, ""), DataPath: s.path}}}
	if s.path == datapath.VDI {
		lib := standInLibrary(s.t)
		o.VDI = func() (vdi.Platform, error) { return linuxvdi.Open(lib) }
	}
	if tune != nil {
		tune(&o)
	}
	a, err := agent.New(o)
	require.NoError(s.t, err)
	inst.SetHostsEntry(agentHost, testenv.LoopbackIP(listen))
	return a
}

// agentWorkerOptions are the agent worker's options as worker/run.go sets them with the
// default configuration: at most agent.maxConcurrentBackups (4) activities at once. With the
// SDK's default (1000) fifty first fulls start at once, queue for the agent's eight SQL
// connections without heartbeating, and time out and back off for minutes.
func agentWorkerOptions() worker.Options {
	return worker.Options{MaxConcurrentActivityExecutionSize: config.DefaultMaxConcurrentBackups}
}

func (s *stack) stopAgent() {
	s.agentMu.Lock()
	a := s.agent
	s.agent = nil
	s.agentMu.Unlock()
	if a == nil {
		return
	}
	a.w.Stop()
	a.a.Close()
}

// backupInput names a database of the stack's instance, routed to the stack's agent.
func (s *stack) backupInput(db string, t protocol.BackupType) protocol.BackupInput {
	return protocol.BackupInput{Instance: vm, Database: db, Type: t, VM: s.agentVM()}
}

// start starts a backup workflow the way the starter does.
func (s *stack) start(in protocol.BackupInput) client.WorkflowRun {
	ctx := context.Background()
	id := protocol.BackupWorkflowID(vault.ItemID(in.Instance, in.Database), in.Type) + "-" + s.container
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.controlQueue(),
		WorkflowExecutionTimeout: 10 * time.Minute}, protocol.WorkflowBackup, in)
	require.NoError(s.t, err)
	return run
}

// backup runs one backup to completion.
func (s *stack) backup(in protocol.BackupInput) (protocol.RecoveryPoint, error) {
	run := s.start(in)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var res protocol.BackupResult
	err := run.Get(ctx, &res)
	if ctx.Err() != nil {
		s.describePending(run.GetID(), run.GetRunID())
	}
	return res.RecoveryPoint, err
}

// describePending logs a stuck workflow's pending activities and their last failures.
func (s *stack) describePending(id, runID string) {
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), id, runID)
	if err != nil {
		s.t.Logf("describe %s: %v", id, err)
		return
	}
	for _, pa := range d.PendingActivities {
		s.t.Logf("pending %s attempt %d: %v", pa.GetActivityType().GetName(), pa.GetAttempt(), pa.GetLastFailure())
	}
}

func (s *stack) mustBackup(in protocol.BackupInput) protocol.RecoveryPoint {
	s.t.Helper()
	rp, err := s.backup(in)
	require.NoError(s.t, err)
	return rp
}

// msdbRow is SQL Server's own record of a backup, read through go-mssqldb.
type msdbRow struct {
	Type, First, Last, Checkpoint, DBBackup, DiffBase string
	CopyOnly                                          bool
}

func (s *stack) msdb(db string) []msdbRow {
	rows, err := s.sqlDB.Query(`SELECT type, is_copy_only, CAST(first_lsn AS nvarchar(40)), CAST(last_lsn AS nvarchar(40)),
		CAST(checkpoint_lsn AS nvarchar(40)), ISNULL(CAST(database_backup_lsn AS nvarchar(40)), ''),
		ISNULL(CAST(differential_base_lsn AS nvarchar(40)), '')
		FROM msdb.dbo.backupset WHERE database_name = @p1 ORDER BY backup_set_id`, db)
	require.NoError(s.t, err)
	defer rows.Close()
	var out []msdbRow
	for rows.Next() {
		var r msdbRow
		require.NoError(s.t, rows.Scan(&r.Type, &r.CopyOnly, &r.First, &r.Last, &r.Checkpoint, &r.DBBackup, &r.DiffBase))
		out = append(out, r)
	}
	return out
}

// blobs lists every blob in the stack's vault container.
func (s *stack) blobs() []vault.BlobInfo {
	var out []vault.BlobInfo
	require.NoError(s.t, s.repo.Store().List(context.Background(), "", func(b vault.BlobInfo) error {
		out = append(out, b)
		return nil
	}))
	return out
}

func (s *stack) points(instance, db string) []*vault.Manifest {
	ms, err := s.repo.ListPoints(context.Background(), vault.ItemID(instance, db))
	require.NoError(s.t, err)
	return ms
}

// logText is every captured log line with its fields, for secret scans.
func (s *stack) logText() string {
	var b strings.Builder
	for _, e := range s.logs.All() {
		b.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			fmt.Fprintf(&b, " %s=%v", k, v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
