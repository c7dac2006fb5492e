package agent

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/agent/memlimit"
	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/agent/vdi"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/metrics"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// InstanceDSN names one SQL Server instance and how to connect to it. The DSN holds the
// SQL credential: it stays in the agent's process (never in a workflow payload or a log).
type InstanceDSN struct {
	Name string // @@SERVERNAME: "VM" or "VM\INSTANCE"
	DSN  string
	// DataPath is the instance's data path (agent.instances[].dataPath); empty: VDI where
	// the VDI library opens (Options.VDI), else URL (datapath.Library.Choose).
	DataPath datapath.Kind
	// Restore is what restores the instance accepts (agent.instances[].restore):
	// protocol.RestoreModeOverwrite (also ""), RestoreModeNew or RestoreModeNone.
	Restore string
}

// VDIOpener opens the machine's VDI client library (vdi.ErrNoPlatform when it has none).
type VDIOpener func() (vdi.Platform, error)

// Options is everything an agent is built from. The worker fills it from its
// configuration; the e2e harness and the benchmarks fill it from their test stacks, so
// the three run the same wiring.
type Options struct {
	VM        string
	Instances []InstanceDSN
	Endpoint  endpoint.Options
	Vault     *vault.Repository
	// Keys gives the data keys (the worker passes the keyring, keys.ForAgent: the fleet's, or
	// with key.scope vm its VM's, which takes delivered keys from grants); Key alone
	// is one fixed data key (tests and benchmarks), used when Keys is nil.
	Keys keys.Source
	Key  *blockcrypt.Key
	Log  *zap.Logger

	HeartbeatEvery             time.Duration
	StallAfter, StallAfterBusy time.Duration
	// MaxConcurrentSteps is how many activities the agent's worker runs at once
	// (agent.maxConcurrentBackups): each instance's connection pool is sized for it
	// (sqlserver.PoolSize; 0: sqlserver.DefaultMaxOpen connections).
	MaxConcurrentSteps int
	BlocksInFlight     int
	Memory             *memlimit.Budget
	RestoreRoots       []string
	// VDI opens the VDI client library; New calls it (once) when an instance's dataPath is
	// vdi or not set. The worker passes the machine's transport (winvdi, linuxvdi), tests a
	// fake; nil: none, so instances without a dataPath take the URL path.
	VDI VDIOpener
	// Metrics is the registry the agent's series go on (package metrics); nil: none recorded.
	Metrics prometheus.Registerer
	// WrapStore wraps each store the agent opens from a step's grant (the worker measures
	// them with the process's vault series); nil: used as opened.
	WrapStore func(vault.Store) vault.Store
}

// New starts the agent's blob endpoint and opens one connection pool per instance. Close
// releases them; on an error New has released what it took.
func New(o Options) (*Agent, error) {
	if len(o.Instances) == 0 {
		return nil, errors.New("agent.instances: the agent manages no SQL Server instance; list at least one")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Endpoint.Logger == nil {
		o.Endpoint.Logger = o.Log.Named("endpoint")
	}
	// Each instance's data path (datapath.Library.Choose): the configured one, or without one
	// vdi where the VDI library opens, else url. One line per instance says which and why.
	lib := datapath.NewLibrary(o.VDI)
	var platform vdi.Platform
	kinds := make([]datapath.Kind, len(o.Instances))
	for i, in := range o.Instances {
		c, err := lib.Choose(string(in.DataPath))
		if err != nil {
			return nil, fmt.Errorf("agent.instances[%d] (%s).dataPath: %w", i, in.Name, err)
		}
		kinds[i] = c.Kind
		if c.Platform != nil {
			platform = c.Platform
		}
		o.Log.Named("agent").Info("instance data path", zap.String("instance", in.Name), zap.String("dataPath", string(c.Kind)),
			zap.Bool("default", c.Default), zap.String("why", c.Why))
	}
	switch {
	case o.Keys == nil && o.Key != nil:
		o.Keys = keys.Static(o.Key)
	case o.Keys == nil:
		o.Keys = noKeys{} // an agent for discovery alone; a backup or restore fails by name
	}
	ep, err := endpoint.New(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if err := ep.Start(); err != nil {
		return nil, err
	}
	repo := o.Vault
	if _, none := o.Keys.(noKeys); repo != nil && !repo.HasKeys() && !none {
		// The agent's keys authenticate the manifests it restores from (vault.WithKeys).
		repo = repo.WithKeys(o.Keys)
	}
	a := &Agent{VM: o.VM, Endpoint: ep, Vault: repo, Keys: o.Keys, Log: o.Log.Named("agent"),
		HeartbeatEvery: o.HeartbeatEvery, StallAfter: o.StallAfter, StallAfterBusy: o.StallAfterBusy,
		BlocksInFlight: o.BlocksInFlight, Memory: o.Memory, RestoreRoots: o.RestoreRoots, VDI: platform, WrapStore: o.WrapStore}
	if o.Metrics != nil {
		// Read at each scrape: Memory may be set after New (the worker does).
		a.Metrics = metrics.NewAgent(o.Metrics, metrics.AgentSources{EndpointSessions: ep.Sessions,
			MemoryLimit: func() int64 { return a.Memory.Limit() }})
	}
	for i, in := range o.Instances {
		conn, err := sqlserver.OpenPool(in.DSN, sqlserver.PoolSize(o.MaxConcurrentSteps))
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("agent.instances[%d] (%s): %w", i, in.Name, err)
		}
		a.Instances = append(a.Instances, Instance{Name: in.Name, Conn: conn, DataPath: kinds[i], Restore: in.Restore})
	}
	return a, nil
}

// Close stops the endpoint and closes the instances' connections.
func (a *Agent) Close() {
	if a.Endpoint != nil {
		_ = a.Endpoint.Close()
	}
	for _, in := range a.Instances {
		_ = in.Conn.Close()
	}
}

// NewWorker is an activity-only worker on the VM's task queue with the agent's activities
// registered. opts.MaxConcurrentActivityExecutionSize caps how many backups and restores
// run on the VM at once.
func (a *Agent) NewWorker(tc client.Client, opts worker.Options) worker.Worker {
	opts.DisableWorkflowWorker = true
	w := worker.New(tc, protocol.AgentTaskQueue(a.VM), opts)
	a.Register(w)
	return w
}
