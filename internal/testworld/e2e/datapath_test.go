package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	tworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/memlimit"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/agent/vdi/linuxvdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/logging"
	"github.com/sqlvault/sqlvault/internal/sqlsim/vdistandin"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/worker"
)

// The data paths (issue 14). The scenarios the issue lists run as subtests url and vdi
// (onEachPath): the VDI path's agents load the project's stand-in libsqlvdi.so through the
// product's own Linux client (linuxvdi), and the simulator's BACKUP … TO VIRTUAL_DEVICE
// meets them in this package's socket directory (shareVDIDir).

// onEachPath runs body as the subtests url and vdi, one per data path; body builds its stack
// with onPath(path).
func onEachPath(t *testing.T, body func(t *testing.T, path datapath.Kind)) {
	for _, p := range []datapath.Kind{datapath.URL, datapath.VDI} {
		t.Run(string(p), func(t *testing.T) { body(t, p) })
	}
}

// onEachPathAtOnce is onEachPath with the two subtests running side by side, for the tests
// that mostly wait (for Temporal to notice a killed agent): their stacks share nothing but
// the services, and the package's wall time grows by one wait instead of two.
func onEachPathAtOnce(t *testing.T, body func(t *testing.T, path datapath.Kind)) {
	for _, p := range []datapath.Kind{datapath.URL, datapath.VDI} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			body(t, p)
		})
	}
}

// shareVDIDir gives the package one directory of its own for the stand-in's sockets, read
// by the library (in this process and in the agent processes it starts, which inherit the
// environment) and by the simulator, so that no other test binary's sets meet these.
func shareVDIDir() (func(), error) {
	// A Unix socket's path holds at most 107 bytes: the set's socket name takes up to 68.
	base := os.TempDir()
	if len(base) > 24 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "sqlvault-e2e-vdi-")
	if err != nil {
		return nil, fmt.Errorf("e2e: directory for the VDI stand-in's sockets: %w", err)
	}
	if err := os.Setenv(vdistandin.DirEnv, dir); err != nil {
		return nil, err
	}
	return func() { _ = os.RemoveAll(dir) }, nil
}

// standInLibrary is the stand-in libsqlvdi.so, built once per test binary.
func standInLibrary(t *testing.T) string {
	t.Helper()
	lib, err := vdistandin.Build()
	require.NoError(t, err, "the stand-in libsqlvdi.so must build: the machine needs g++")
	return lib
}

// record records a history for the replay tests from the URL run only: the workflows issue
// the same commands on both paths, and each file has one writer.
func (s *stack) record(name string, h *historypb.History) {
	if s.path == datapath.URL {
		record(s.t, name, h)
	}
}

// requireOnPath checks that the points went through the stack's data path: the manifest
// records it (dataPath "vdi"; a URL point records none), and SQL Server's own record of
// each backup of database, read through sqlDB, names the device type (7 virtual device,
// 9 URL).
func (s *stack) requireOnPath(ms []*vault.Manifest, sqlDB *sql.DB, database string) {
	t := s.t
	t.Helper()
	wantPath, wantType := "", 9
	if s.path == datapath.VDI {
		wantPath, wantType = vault.DataPathVDI, 7
	}
	require.NotEmpty(t, ms)
	for _, m := range ms {
		assert.Equal(t, wantPath, m.DataPath, "dataPath of point %s", m.PointID)
	}
	rows, err := sqlDB.Query(`SELECT mf.device_type FROM msdb.dbo.backupset bs
		JOIN msdb.dbo.backupmediafamily mf ON mf.media_set_id = bs.media_set_id
		WHERE bs.database_name = @p1`, database)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var typ int
		require.NoError(t, rows.Scan(&typ))
		assert.Equal(t, wantType, typ, "msdb device_type of a backup of %s", database)
		n++
	}
	require.NoError(t, rows.Err())
	require.NotZero(t, n, "msdb has backups of %s", database)
}

// An agent process on the VDI path is this test binary run again with agentChildConfigEnv
// naming its configuration: the worker binary opens only SQL Server's own VDI library
// (worker.OpenVDI), and this one must load the stand-in. It builds the agent from the same
// configuration file as the worker binary, the same way (worker.OpenVault, agent.New,
// Agent.NewWorker), and runs until it is killed.
const (
	agentChildConfigEnv  = "SQLVAULT_E2E_AGENT_CONFIG"
	agentChildLibraryEnv = "SQLVAULT_E2E_VDI_LIBRARY"
)

func runAgentChild(cfgPath, lib string) error {
	if lib == "" {
		return errors.New(agentChildLibraryEnv + " names no VDI library")
	}
	cfg, err := config.Load(cfgPath, os.Getenv, nil)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := logging.New(cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	ctx := context.Background()
	tc, err := temporalx.Dial(ctx, cfg.Temporal, log)
	if err != nil {
		return err
	}
	repo, err := worker.OpenVault(ctx, cfg.Vault, log)
	if err != nil {
		return err
	}
	key, err := blockcrypt.LoadKeyFile(cfg.Key.File)
	if err != nil {
		return err
	}
	o := agent.Options{VM: cfg.Agent.VM, Vault: repo, Key: key, Log: log,
		Endpoint: endpoint.Options{Host: cfg.Agent.Endpoint.Host, Listen: cfg.Agent.Endpoint.Listen,
			CertFile: cfg.Agent.Endpoint.CertFile, KeyFile: cfg.Agent.Endpoint.KeyFile},
		BlocksInFlight: cfg.Agent.BlocksInFlight, RestoreRoots: cfg.Agent.RestoreRoots,
		StallAfter: cfg.Agent.StallAfter, StallAfterBusy: cfg.Agent.StallAfterBusy,
		VDI: func() (vdi.Platform, error) { return linuxvdi.Open(lib) }}
	for i, inst := range cfg.Agent.Instances {
		dsn, err := inst.DSN()
		if err != nil {
			return fmt.Errorf("agent.instances[%d]: %w", i, err)
		}
		o.Instances = append(o.Instances, agent.InstanceDSN{Name: inst.Name, DSN: dsn, DataPath: datapath.Kind(inst.DataPath),
			Restore: inst.Restore})
	}
	a, err := agent.New(o)
	if err != nil {
		return err
	}
	if mib := cfg.AgentMemoryLimitMiB(os.Getenv); mib > 0 {
		a.Memory = memlimit.New(mib, config.MemoryPerStripeMiB)
	}
	w := a.NewWorker(tc, tworker.Options{MaxConcurrentActivityExecutionSize: cfg.Agent.MaxConcurrentBackups})
	if err := w.Start(); err != nil {
		return err
	}
	log.Info("worker running", zap.String("role", string(cfg.Role)), zap.String("dataPath", string(datapath.VDI)),
		zap.String("vdi", filepath.Base(lib)))
	// Until killed (the tests' way to end it) or stopped.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	w.Stop()
	a.Close()
	return nil
}
