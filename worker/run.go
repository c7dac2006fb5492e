package worker

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/memlimit"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/buildinfo"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/control/itemmetrics"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/logging"
	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
	"github.com/sqlvault/sqlvault/workflows"
)

// run starts the configured roles and blocks until ctx ends.
func run(ctx context.Context, cfg *config.Config) error {
	log, err := logging.New(cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	// One registry for the process: the SDK's series, the vault's, and each role's.
	reg := metrics.NewRegistry(buildinfo.Read("sqlvault-worker", debug.ReadBuildInfo).Version, string(cfg.Role))
	var memory *memlimit.Budget
	if mib := cfg.AgentMemoryLimitMiB(os.Getenv); mib > 0 {
		memory = memlimit.New(mib, config.MemoryPerStripeMiB)
		log.Info("agent soft memory limit set", zap.Int("mib", mib), zap.Int("perFurtherStripeMiB", config.MemoryPerStripeMiB))
	}
	dial := temporalx.DialOptions{Metrics: metrics.NewTemporalHandler(reg)}
	if dial.Codec, err = loadCodec(ctx, cfg, log); err != nil {
		return err
	}
	tc, err := temporalx.DialWith(ctx, cfg.Temporal, log, dial)
	if err != nil {
		return err
	}
	defer tc.Close()
	wrapStore := metrics.StoreInstrument(reg)
	// An agent-only worker in grant mode holds no storage credential: it opens no vault, and
	// each step works through the grant the control side minted for it.
	var repo *vault.Repository
	var store *azstore.Store
	if cfg.Role.RunsControl() || !cfg.AgentGrantOnly() {
		if repo, store, err = openVault(ctx, cfg.Vault, log, wrapStore); err != nil {
			return err
		}
	} else {
		log.Info("agent holds no vault credential (agent.vaultAccess: grant); each step uses its grant from the control side")
	}
	// Both roles hold the keyring (data keys unwrapped through the configured KEK, and the
	// key file itself for the points it sealed before the keyring): the control worker
	// authenticates the manifests it commits and those retention and restore planning read;
	// the agent seals with the active key and authenticates what it restores from. The ring
	// reads its records through the repository without keys: they are sealed under the KEK.
	var ring keys.Source
	var fleetRing *keys.Ring // the control side's: delivers data keys to VMs with keys of their own
	if repo != nil {
		// An agent with a KEK of its own (key.scope: vm, agent role only) opens its own
		// VM's data keys and no other: keys.NewVMRing.
		r, err := keys.ForAgent(cfg.Key, cfg.Agent.VM, repo)
		if err != nil {
			return err
		}
		repo, ring = repo.WithKeys(r), r
		if r.Scope() == "" {
			fleetRing = r
		}
	}
	var workers []worker.Worker
	if cfg.Role.RunsControl() {
		w := newControlWorker(tc, cfg.Temporal.ControlTaskQueue, &control.Control{Vault: repo, Log: log,
			RPOMetrics: rpowatch.NewMetrics(reg), RPOWebhook: webhookOf(cfg.Watchdog.Webhook),
			SoftDelete: cfg.Retention.SoftDelete(), Grants: GrantMinter(ctx, cfg, store, ring, log), KeyDelivery: keyDelivery(fleetRing),
			RefuseCrossVMKeys: cfg.Key.RefusesCrossVMRestores()})
		workers = append(workers, w)
		catalog := itemmetrics.New(reg, repo, log, nil)
		go catalog.Run(ctx, cfg.Metrics.CatalogRefresh)
		if !cfg.Watchdog.Off {
			defer startWatchdog(ctx, tc, cfg, log)()
		}
		if !cfg.DrillPlanner.Off {
			defer startDrillPlanner(ctx, tc, cfg, log)()
		}
	}
	if cfg.Role.RunsAgent() {
		agentRepo := repo
		if cfg.AgentGrantOnly() {
			agentRepo = nil // in role both too: the agent's steps use their grants only
		}
		ag, closeAgent, err := newAgent(cfg, agentRepo, ring, log, memory, reg, wrapStore)
		if err != nil {
			return err
		}
		defer closeAgent()
		workers = append(workers, NewAgentWorker(tc, cfg, ag))
	}
	for _, w := range workers {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		defer w.Stop()
	}
	if listen := cfg.MetricsListen(); listen != config.MetricsOff {
		// A port taken must not stop backups: the worker runs on, says so, and Prometheus'
		// own up == 0 for this target raises the SqlvaultTargetDown alert.
		if srv, err := metrics.Listen(listen, reg, log); err != nil {
			log.Error("cannot serve /metrics; the worker runs without it (set metrics.listen to a free ip:port, or off)",
				zap.String("listen", listen), zap.Error(err))
		} else {
			defer func() { _ = srv.Close() }()
			log.Info("serving metrics", zap.String("url", "http://"+srv.Addr()+"/metrics"))
		}
	}
	log.Info("worker running", zap.String("role", string(cfg.Role)), zap.String("temporal", cfg.Temporal.Address),
		zap.String("namespace", cfg.Temporal.Namespace))
	<-ctx.Done()
	log.Info("worker stopping")
	return nil
}

// loadCodec is the payload codec of codec.keyFile (nil when unset: payloads in clear, as
// before). It comes from local configuration alone — the codec key file wrapped under the
// KEK — because an agent in grant mode must decode its first activity input before it holds
// any way into the vault. It names the active key id, never the key.
func loadCodec(ctx context.Context, cfg *config.Config, log *zap.Logger) (converter.PayloadCodec, error) {
	codec, err := payloadcodec.FromConfig(ctx, cfg.Codec, cfg.Key)
	if err != nil {
		return nil, err
	}
	if codec == nil {
		log.Info("Temporal payloads are not encrypted (codec.keyFile unset)")
		return nil, nil
	}
	log.Info("Temporal payloads are encrypted", zap.String("codecKeyFile", cfg.Codec.KeyFile),
		zap.String("activeCodecKey", codec.ActiveKeyID()), zap.Int("codecKeys", len(codec.KeyIDs())))
	return codec, nil
}

// OpenVault connects to the vault container with the configured authentication.
func OpenVault(ctx context.Context, v config.Vault, log *zap.Logger) (*vault.Repository, error) {
	repo, _, err := openVault(ctx, v, log, nil)
	return repo, err
}

// openVault is OpenVault with every storage call measured through wrap (nil: not
// measured); it returns the store as well, which signs the agents' grants.
func openVault(ctx context.Context, v config.Vault, log *zap.Logger, wrap func(vault.Store) vault.Store) (*vault.Repository, *azstore.Store, error) {
	store, err := azstore.FromConfig(ctx, v)
	if err != nil {
		return nil, nil, err
	}
	var s vault.Store = store
	if wrap != nil {
		s = wrap(s)
	}
	return vault.NewRepository(s, log), store, nil
}

// GrantMinter is what mints the agents' storage grants on the control side: the vault key
// (key.file) seals them and the store signs them, which needs the account key (vault.auth
// sharedKey, or a connection string with AccountKey). Without either it returns nil and
// says so: agents then use their own credential, and an agent in grant mode refuses its
// steps by name.
func GrantMinter(ctx context.Context, cfg *config.Config, store *azstore.Store, ring keys.Source, log *zap.Logger) *grant.Minter {
	if store == nil {
		return nil
	}
	now := time.Now()
	if _, err := store.SignBlob(vault.ItemsPrefix+"probe", sas.BlobPermissions{Read: true}, now, now.Add(time.Minute)); err != nil {
		log.Warn("agents get no vault grants: this control worker cannot sign blob SAS tokens, so agents use their own vault credential (agents with agent.vaultAccess: grant fail their steps)",
			zap.Error(err))
		return nil
	}
	// Grants are sealed with the key file's key when there is one (an agent without a vault
	// credential holds that key alone: it cannot read the keyring), else with the keyring's
	// active key; the grant names the key, and the agent opens it with that one.
	key, err := blockcrypt.LoadKeyFile(cfg.Key.File)
	if err != nil && ring != nil {
		key, err = ring.Active(ctx)
	}
	if err != nil {
		log.Warn("agents get no vault grants: this control worker holds no vault key to seal them with (set key.file to the agents' key)",
			zap.Error(err))
		return nil
	}
	return &grant.Minter{Signer: store, Key: key}
}

// keyDelivery is r as the control side's key deliverer, nil when there is none (a nil
// *keys.Ring must not become a non-nil interface).
func keyDelivery(r *keys.Ring) control.KeyDeliverer {
	if r == nil {
		return nil
	}
	return r
}

// NewControlWorker registers every workflow and the control activities. repo must hold the
// vault key (vault.Repository.WithKeys): commits authenticate their manifests with it.
func NewControlWorker(tc client.Client, queue string, repo *vault.Repository, log *zap.Logger) worker.Worker {
	return newControlWorker(tc, queue, &control.Control{Vault: repo, Log: log})
}

// newControlWorker is NewControlWorker with the control activities' options beyond the
// vault and the log (the watchdog's series and webhook); it sets the Temporal client and queue.
func newControlWorker(tc client.Client, queue string, c *control.Control) worker.Worker {
	w := worker.New(tc, queue, worker.Options{})
	workflows.Register(w)
	c.Temporal, c.ControlQueue = tc, queue
	c.Register(w)
	return w
}

// NewAgent builds the agent from the configuration (agent.New, the wiring the e2e harness
// and the benchmarks share): the endpoint, the key and one connection pool per instance.
// The returned func releases them.
func NewAgent(cfg *config.Config, repo *vault.Repository, log *zap.Logger) (*agent.Agent, func(), error) {
	return newAgent(cfg, repo, nil, log, nil, nil, nil)
}

// newAgent is NewAgent with the memory budget, the registry of the agent's series and the
// wrapper that measures the stores it opens from grants. src is the key source (nil: built
// here from the configuration: the keyring through repo, or, for an agent that holds no
// vault credential and so cannot read the keyring, the key file alone).
func newAgent(cfg *config.Config, repo *vault.Repository, src keys.Source, log *zap.Logger, memory *memlimit.Budget, reg prometheus.Registerer,
	wrapStore func(vault.Store) vault.Store) (*agent.Agent, func(), error) {
	src, err := agentKeys(cfg, repo, src)
	if err != nil {
		return nil, nil, err
	}
	o := agent.Options{VM: cfg.Agent.VM, Vault: repo, Keys: src, Log: log,
		Endpoint: endpoint.Options{Host: cfg.Agent.Endpoint.Host, Listen: cfg.Agent.Endpoint.Listen,
			CertFile: cfg.Agent.Endpoint.CertFile, KeyFile: cfg.Agent.Endpoint.KeyFile},
		BlocksInFlight: cfg.Agent.BlocksInFlight, RestoreRoots: cfg.Agent.RestoreRoots,
		StallAfter: cfg.Agent.StallAfter, StallAfterBusy: cfg.Agent.StallAfterBusy, VDI: OpenVDI(cfg.Agent.VDILibrary),
		Memory: memory, Metrics: reg, WrapStore: wrapStore, MaxConcurrentSteps: cfg.Agent.MaxConcurrentBackups}
	for i, inst := range cfg.Agent.Instances {
		dsn, err := inst.DSN()
		if err != nil {
			return nil, nil, fmt.Errorf("agent.instances[%d]: %w", i, err)
		}
		o.Instances = append(o.Instances, agent.InstanceDSN{Name: inst.Name, DSN: dsn, DataPath: datapath.Kind(inst.DataPath),
			Restore: inst.Restore})
	}
	a, err := agent.New(o)
	if err != nil {
		return nil, nil, err
	}
	return a, a.Close, nil
}

// agentKeys is the agent's key source: src if given; else the keyring from the
// configuration through repo; else (no vault credential: agent.vaultAccess grant) the
// keyring without its records, which are out of reach: its steps' grants bring the records
// they need (keys.Ring.AcceptRecords) and the key file serves its own points; with its own
// VM's KEK (key.scope: vm) it takes every key from the deliveries in its steps' grants.
func agentKeys(cfg *config.Config, repo *vault.Repository, src keys.Source) (keys.Source, error) {
	if src != nil {
		return src, nil
	}
	if repo != nil || cfg.Key.VMScoped() {
		// A VM's ring without a vault credential reads no keyring: its keys come with
		// each step's grant (keys.Ring.Accept).
		return keys.ForAgent(cfg.Key, cfg.Agent.VM, repo)
	}
	// A fleet agent without a vault credential: the fleet KEK, with the key file's key as
	// its own; the keyring records each step needs come with its grant
	// (keys.Ring.AcceptRecords), so it seals with the fleet's active key after a rotation.
	if _, err := blockcrypt.LoadKeyFile(cfg.Key.File); err != nil && cfg.Key.KeyProvider() == config.KeyProviderFile {
		return nil, fmt.Errorf("an agent without a vault credential (agent.vaultAccess: grant) cannot read the vault's keyring and needs key.file, the vault key: %w", err)
	}
	return keys.FromConfig(cfg.Key, nil)
}

// NewAgentWorker is an activity-only worker on this VM's task queue. The concurrency limit
// caps how many backups and restores run on the VM at once.
func NewAgentWorker(tc client.Client, cfg *config.Config, a *agent.Agent) worker.Worker {
	return a.NewWorker(tc, worker.Options{MaxConcurrentActivityExecutionSize: cfg.Agent.MaxConcurrentBackups})
}
