package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/activities"
	"github.com/sqlvault/sqlvault/internal/endpoint"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlserver"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/workflows"
)

// concurrency tracks how many streams run at once and the most ever seen.
type concurrency struct {
	now, peak atomic.Int64
}

func (c *concurrency) enter() {
	n := c.now.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (c *concurrency) leave() { c.now.Add(-1) }

// fleetVM is one simulated SQL Server VM: a simulator instance and its in-process agent
// (endpoint, SQL connection, activity worker on the VM's task queue).
type fleetVM struct {
	name    string
	host    *simHost
	dbs     []*sqlsim.Database
	streams concurrency
}

// Names of the no-op workflow and activities of the baseline burst.
const (
	noopWorkflow = "bench.Noop"
	noopAgent    = "bench.NoopAgent"
	noopControl  = "bench.NoopControl"
)

// noopBackup has the shape of sqlvault.Backup (two agent activities, one control activity)
// with no work in them: the orchestration ceiling of the dev server on this machine.
func noopBackup(ctx workflow.Context, vm string) error {
	agentCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: protocol.AgentTaskQueue(vm),
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute})
	for range 2 {
		if err := workflow.ExecuteActivity(agentCtx, noopAgent).Get(ctx, nil); err != nil {
			return err
		}
	}
	ctlCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(ctlCtx, noopControl).Get(ctx, nil)
}

// burstResult is the timing of one burst of workflows.
type burstResult struct {
	n         int
	total     time.Duration // first start to last completion
	sustained float64       // completions per second between the 10th and 90th percentile
}

// burst runs per(key) workflows one after another for every key, all keys at once.
func burst(tb testing.TB, keys int, per int, run func(key, k int) error) burstResult {
	var mu sync.Mutex
	var done []time.Time
	var wg sync.WaitGroup
	start := time.Now()
	errs := make(chan error, keys*per)
	for key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range per {
				if err := run(key, k); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				done = append(done, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(tb, err)
	}
	total := time.Since(start)
	sort.Slice(done, func(i, j int) bool { return done[i].Before(done[j]) })
	n := len(done)
	lo, hi := n/10, n*9/10
	sustained := float64(hi-lo) / done[hi-1].Sub(done[lo]).Seconds()
	return burstResult{n: n, total: total, sustained: sustained}
}

// BenchmarkFleet (issue 6, item 5): SQLVAULT_BENCH_FLEET_VMS simulated VMs (default 20),
// each a simulator instance with SQLVAULT_BENCH_FLEET_DBS databases (default 5) and its own
// in-process agent (endpoint, SQL connection, worker on its own task queue with
// MaxConcurrentActivityExecutionSize = SQLVAULT_BENCH_FLEET_LIMIT, default 2, as
// worker/run.go sets it from agent.maxConcurrentBackups), one control worker, one Temporal
// dev server, one vault (MemStore: this measures orchestration, not storage). After a full
// backup of every database, every database takes SQLVAULT_BENCH_FLEET_LOGS log backups
// (default 4) back to back through the real sqlvault.Backup workflow, all databases at
// once: 20 × 5 × 4 = 400 log backups. Reported: the time to finish the burst, backups per
// second (whole burst, and sustained between the 10th and 90th percentile completions), and
// the most streams any one VM ran at once (counted around the real StreamBackup activity).
// Baseline: the same burst of a no-op workflow of the same shape (two agent activities and
// one control activity, no work), the dev server's own ceiling here.
func BenchmarkFleet(b *testing.B) {
	nVM := int(envInt("SQLVAULT_BENCH_FLEET_VMS", 20))
	nDB := int(envInt("SQLVAULT_BENCH_FLEET_DBS", 5))
	nLog := int(envInt("SQLVAULT_BENCH_FLEET_LOGS", 4))
	limit := int(envInt("SQLVAULT_BENCH_FLEET_LIMIT", 2))
	tp := sharedTemporal(b)
	tc, err := client.Dial(client.Options{HostPort: tp.HostPort, Namespace: tp.Namespace,
		Logger: temporalx.NewZapLogger(zap.NewNop())})
	require.NoError(b, err)
	defer tc.Close()
	store := vault.NewMemStore()
	repo := vault.NewRepository(store, nil)
	tag := fmt.Sprintf("%d-%d", os.Getpid(), containerSeq.Add(1))
	controlQueue := "bench-control-" + tag

	cw := worker.New(tc, controlQueue, worker.Options{})
	workflows.Register(cw)
	(&activities.Control{Vault: repo}).Register(cw)
	cw.RegisterWorkflowWithOptions(noopBackup, workflow.RegisterOptions{Name: noopWorkflow})
	cw.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: noopControl})
	require.NoError(b, cw.Start())
	defer cw.Stop()

	vms := make([]*fleetVM, nVM)
	for i := range vms {
		name := fmt.Sprintf("FLT%s-VM%02d", tag, i+1)
		h := newSimHost(b, name)
		vm := &fleetVM{name: name, host: h}
		for d := range nDB {
			db, err := h.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: fmt.Sprintf("Db%02d", d+1), DataPages: 128})
			require.NoError(b, err)
			vm.dbs = append(vm.dbs, db)
		}
		ep, err := endpoint.New(endpoint.Options{Host: agentHost, Listen: "127.0.0.1:0", CertFile: h.certFile, KeyFile: h.keyFile})
		require.NoError(b, err)
		require.NoError(b, ep.Start())
		defer ep.Close()
		conn, err := sqlserver.Open(h.dsn)
		require.NoError(b, err)
		defer conn.Close()
		ag := &activities.Agent{VM: name, Endpoint: ep, Vault: repo, Key: h.key, HeartbeatEvery: time.Second,
			Instances: []activities.Instance{{Name: name, Conn: conn}}}
		w := worker.New(tc, protocol.AgentTaskQueue(name), worker.Options{DisableWorkflowWorker: true,
			MaxConcurrentActivityExecutionSize: limit})
		w.RegisterActivityWithOptions(ag.PrepareBackup, activity.RegisterOptions{Name: protocol.ActivityPrepareBackup})
		w.RegisterActivityWithOptions(func(ctx context.Context, in protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
			vm.streams.enter()
			defer vm.streams.leave()
			return ag.StreamBackup(ctx, in)
		}, activity.RegisterOptions{Name: protocol.ActivityStreamBackup})
		w.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: noopAgent})
		require.NoError(b, w.Start())
		defer w.Stop()
		vms[i] = vm
	}

	backup := func(vm *fleetVM, db *sqlsim.Database, t protocol.BackupType, id string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: controlQueue},
			protocol.WorkflowBackup, protocol.BackupInput{Instance: vm.name, Database: db.Name(), Type: t})
		if err != nil {
			return err
		}
		return run.Get(ctx, nil)
	}
	nKeys := nVM * nDB
	at := func(key int) (*fleetVM, *sqlsim.Database) { vm := vms[key%nVM]; return vm, vm.dbs[key/nVM] }

	for i := 0; i < b.N; i++ {
		run := fmt.Sprintf("%s-%d", tag, i)
		// Warm-up, and the log chain: a full of every database.
		fulls := burst(b, nKeys, 1, func(key, _ int) error {
			vm, db := at(key)
			return backup(vm, db, protocol.Full, fmt.Sprintf("bench-full-%s-%s-%s", run, vm.name, db.Name()))
		})
		logs := burst(b, nKeys, nLog, func(key, k int) error {
			vm, db := at(key)
			if _, err := db.Write(20); err != nil {
				return err
			}
			return backup(vm, db, protocol.Log, fmt.Sprintf("bench-log-%s-%s-%s-%d", run, vm.name, db.Name(), k))
		})
		noop := burst(b, nKeys, nLog, func(key, k int) error {
			vm, _ := at(key)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			r, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-noop-%s-%d-%d", run, key, k),
				TaskQueue: controlQueue}, noopWorkflow, vm.name)
			if err != nil {
				return err
			}
			return r.Get(ctx, nil)
		})
		var peak int64
		for _, vm := range vms {
			peak = max(peak, vm.streams.peak.Load())
		}
		require.LessOrEqual(b, peak, int64(limit), "a VM ran more streams at once than its worker allows")
		b.ReportMetric(float64(logs.n), "log-backups")
		b.ReportMetric(logs.total.Seconds(), "burst-s")
		b.ReportMetric(float64(logs.n)/logs.total.Seconds(), "backups/s")
		b.ReportMetric(logs.sustained, "sustained-backups/s")
		b.ReportMetric(float64(noop.n)/noop.total.Seconds(), "noop-wf/s")
		b.ReportMetric(noop.total.Seconds(), "noop-burst-s")
		b.ReportMetric(float64(logs.n)/logs.total.Seconds()/(float64(noop.n)/noop.total.Seconds()), "ratio")
		b.ReportMetric(float64(fulls.n)/fulls.total.Seconds(), "fulls/s")
		b.ReportMetric(float64(peak), "max-streams-per-VM")
		b.ReportMetric(float64(limit), "limit-per-VM")
	}
}
