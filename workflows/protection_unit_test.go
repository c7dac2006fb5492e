package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// protectionWorld runs the protection workflows against recording activities. Policies and
// item records cross as their wire JSON (maps), so these tests do not depend on which Go
// package declares them.
type protectionWorld struct {
	// mu guards the recorded inputs: activities and children run concurrently.
	mu        sync.Mutex
	env       *testsuite.TestWorkflowEnvironment
	calls     *calls
	inventory map[string]protocol.InquiryResult // by VM
	registers []protocol.RegisterItemsInput
	ensures   []protocol.EnsureSchedulesInput
	states    []protocol.SetItemStateInput
	backups   []protocol.BackupInput
	childIDs  []string
	autoIn    []protocol.AutoProtectionInput
	cancels   []protocol.CancelItemBackupsInput
	retention []protocol.ApplyRetentionInput
	policies  map[string]map[string]any
	items     []map[string]any
	instances []protocol.AutoProtectedInstance
	deadVMs   map[string]bool
	// failFull names databases whose first full fails.
	failFull map[string]bool
}

func salesInventory(vm string) protocol.InquiryResult {
	db := func(name string, ok bool, reasons ...string) protocol.DatabaseInfo {
		d := protocol.DatabaseInfo{Name: name, ItemID: vault.ItemID(vm, name), State: "ONLINE", RecoveryModel: "FULL",
			Protectable: ok, Reasons: reasons}
		if ok {
			d.BackupTypes = []protocol.BackupType{protocol.Full, protocol.Differential, protocol.CopyOnlyFull, protocol.Log}
		}
		return d
	}
	return protocol.InquiryResult{VM: vm, Instances: []protocol.InstanceInfo{
		{Name: vm, Databases: []protocol.DatabaseInfo{db("Sales", true), db("HR", true),
			db("Sales_snap", false, "database snapshots cannot be backed up"), db("Old", false, "it is OFFLINE, not ONLINE")}},
		{Name: vm + `\OTHER`, Databases: []protocol.DatabaseInfo{db("Elsewhere", true)}},
	}}
}

func newProtectionWorld(t *testing.T) *protectionWorld {
	var s testsuite.WorkflowTestSuite
	w := &protectionWorld{env: s.NewTestWorkflowEnvironment(), calls: &calls{},
		inventory: map[string]protocol.InquiryResult{"SQLVM1": salesInventory("SQLVM1"), "SQLVM2": salesInventory("SQLVM2")},
		policies:  map[string]map[string]any{"daily": {"name": "daily", "compression": true}, "plain": {"name": "plain", "compression": false}},
		deadVMs:   map[string]bool{}, failFull: map[string]bool{}}
	env := w.env
	env.RegisterWorkflowWithOptions(ConfigureProtection, workflowOpts(protocol.WorkflowConfigureProtection))
	env.RegisterWorkflowWithOptions(StopProtection, workflowOpts(protocol.WorkflowStopProtection))
	env.RegisterWorkflowWithOptions(ResumeProtection, workflowOpts(protocol.WorkflowResumeProtection))
	env.RegisterWorkflowWithOptions(Rediscover, workflowOpts(protocol.WorkflowRediscover))
	env.RegisterWorkflowWithOptions(Inquiry, workflowOpts(protocol.WorkflowInquiry))
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in protocol.BackupInput) (*protocol.BackupResult, error) {
		w.calls.addChild(ctx, in.Database)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.backups = append(w.backups, in)
		w.childIDs = append(w.childIDs, workflow.GetInfo(ctx).WorkflowExecution.ID)
		if w.failFull[in.Database] {
			return nil, protocol.UserError(protocol.ErrLogBackupSimple, "%s cannot be backed up now", in.Database)
		}
		return &protocol.BackupResult{RecoveryPoint: protocol.RecoveryPoint{PointID: "first-" + in.Database, Database: in.Database, Type: in.Type}}, nil
	}, workflowOpts(protocol.WorkflowBackup))
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
		w.calls.add(ctx, protocol.ActivityCheckAgent, in.VM)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.deadVMs[in.VM] {
			return protocol.CheckAgentResult{VM: in.VM}, protocol.UserError(protocol.ErrAgentUnavailable, "no sqlvault agent is running for VM %q", in.VM)
		}
		return protocol.CheckAgentResult{VM: in.VM, Polling: true}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityCheckAgent})
	env.RegisterActivityWithOptions(func(ctx context.Context, name string) (map[string]any, error) {
		w.calls.add(ctx, protocol.ActivityLoadPolicy, name)
		w.mu.Lock()
		defer w.mu.Unlock()
		p, ok := w.policies[name]
		if !ok {
			return nil, protocol.UserError(protocol.ErrPolicyNotFound, "no policy named %q in the vault", name)
		}
		return p, nil
	}, activity.RegisterOptions{Name: protocol.ActivityLoadPolicy})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.InquiryInput) (protocol.InquiryResult, error) {
		w.calls.add(ctx, protocol.ActivityDiscover, in.VM)
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.inventory[in.VM], nil
	}, activity.RegisterOptions{Name: protocol.ActivityDiscover})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.RegisterItemsInput) ([]string, error) {
		w.calls.add(ctx, protocol.ActivityRegisterItems, in.Instance)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.registers = append(w.registers, in)
		ids := make([]string, len(in.Databases))
		for i, d := range in.Databases {
			ids[i] = d.ItemID
		}
		return ids, nil
	}, activity.RegisterOptions{Name: protocol.ActivityRegisterItems})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.EnsureSchedulesInput) (protocol.EnsureSchedulesResult, error) {
		w.calls.add(ctx, protocol.ActivityEnsureSchedule, in.ItemID)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.ensures = append(w.ensures, in)
		if in.Remove {
			return protocol.EnsureSchedulesResult{Deleted: 3}, nil
		}
		return protocol.EnsureSchedulesResult{Schedules: []string{"sqlvault-" + in.ItemID + "-full", "sqlvault-" + in.ItemID + "-log"}, Created: 2}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityEnsureSchedule})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.SetItemStateInput) (protocol.SetItemStateResult, error) {
		w.calls.add(ctx, protocol.ActivitySetItemState, in.State)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.states = append(w.states, in)
		res := protocol.SetItemStateResult{State: in.State}
		if in.State == protocol.ItemStoppedDelete {
			res.DeleteAfter = &softDeleteEnd
		}
		return res, nil
	}, activity.RegisterOptions{Name: protocol.ActivitySetItemState})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.CancelItemBackupsInput) (protocol.CancelItemBackupsResult, error) {
		w.calls.add(ctx, protocol.ActivityCancelItemBackups, in.ItemID)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.cancels = append(w.cancels, in)
		return protocol.CancelItemBackupsResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityCancelItemBackups})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.ApplyRetentionInput) (protocol.ApplyRetentionResult, error) {
		w.calls.add(ctx, protocol.ActivityApplyRetention, in.ItemID)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.retention = append(w.retention, in)
		return protocol.ApplyRetentionResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityApplyRetention})
	env.RegisterActivityWithOptions(func(ctx context.Context, in protocol.AutoProtectionInput) ([]protocol.AutoProtectedInstance, error) {
		w.calls.add(ctx, protocol.ActivityAutoProtection, in.Instance)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.autoIn = append(w.autoIn, in)
		return w.instances, nil
	}, activity.RegisterOptions{Name: protocol.ActivityAutoProtection})
	env.RegisterActivityWithOptions(func(ctx context.Context) ([]map[string]any, error) {
		w.calls.add(ctx, protocol.ActivityListItems, "")
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.items, nil
	}, activity.RegisterOptions{Name: protocol.ActivityListItems})
	return w
}

func (w *protectionWorld) configure(t *testing.T, in protocol.ConfigureProtectionInput) (protocol.ConfigureProtectionResult, error) {
	t.Helper()
	w.env.ExecuteWorkflow(protocol.WorkflowConfigureProtection, in)
	require.True(t, w.env.IsWorkflowCompleted())
	var res protocol.ConfigureProtectionResult
	if err := w.env.GetWorkflowError(); err != nil {
		return res, err
	}
	require.NoError(t, w.env.GetWorkflowResult(&res))
	return res, nil
}

func dbNames(dbs []protocol.DatabaseInfo) []string {
	var out []string
	for _, d := range dbs {
		out = append(out, d.Name)
	}
	return out
}

// ConfigureProtection: the policy, the agent check, discovery on the VM's agent, the items
// recorded (names as SQL Server spells them, a name given twice once), each item's
// schedules, and each first full as a child with the policy's compression.
func TestConfigureProtectionUnitDiscoversRegistersSchedulesAndTakesFirstFulls(t *testing.T) {
	w := newProtectionWorld(t)
	res, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "sqlvm1", Databases: []string{"sales", "HR", "SALES"}, Policy: "daily"})
	require.NoError(t, err)

	names := w.calls.names()
	assert.Equal(t, []string{protocol.ActivityLoadPolicy, protocol.ActivityCheckAgent, protocol.ActivityDiscover, protocol.ActivityRegisterItems,
		protocol.ActivityEnsureSchedule, protocol.ActivityEnsureSchedule, "child", "child"}, names)
	assert.Equal(t, protocol.AgentTaskQueue("SQLVM1"), w.calls.queue(protocol.ActivityDiscover))
	assert.NotEqual(t, protocol.AgentTaskQueue("SQLVM1"), w.calls.queue(protocol.ActivityRegisterItems), "the vault is written on the control side")

	require.Len(t, w.registers, 1)
	reg := w.registers[0]
	assert.Equal(t, "SQLVM1", reg.VM)
	assert.Equal(t, "sqlvm1", reg.Instance)
	assert.Equal(t, "daily", reg.Policy)
	assert.Equal(t, []string{"Sales", "HR"}, dbNames(reg.Databases))
	sales, hr := vault.ItemID("SQLVM1", "Sales"), vault.ItemID("SQLVM1", "HR")
	assert.ElementsMatch(t, []protocol.EnsureSchedulesInput{{ItemID: sales}, {ItemID: hr}}, w.ensures, "asked at once, in any order")

	require.Len(t, w.backups, 2)
	for i, b := range w.backups {
		assert.Equal(t, protocol.Full, b.Type)
		assert.Equal(t, "SQLVM1", b.VM)
		require.NotNil(t, b.Compression)
		assert.True(t, *b.Compression, "the policy's compression")
		assert.Contains(t, b.Reason, "first full")
		assert.True(t, strings.HasPrefix(w.childIDs[i], protocol.BackupWorkflowID(vault.ItemID("SQLVM1", b.Database), protocol.Full)+"-first-full-"),
			"the child of %s is %s", b.Database, w.childIDs[i])
	}
	assert.ElementsMatch(t, []string{"Sales", "HR"}, []string{w.backups[0].Database, w.backups[1].Database})

	require.Len(t, res.Protected, 2)
	assert.Equal(t, "Sales", res.Protected[0].Database)
	assert.Equal(t, sales, res.Protected[0].ItemID)
	assert.Equal(t, []string{"sqlvault-" + sales + "-full", "sqlvault-" + sales + "-log"}, res.Protected[0].Schedules)
	require.NotNil(t, res.Protected[0].FirstFull)
	assert.Equal(t, "first-Sales", res.Protected[0].FirstFull.PointID)
	require.NotNil(t, res.Protected[1].FirstFull)
	assert.Equal(t, "first-HR", res.Protected[1].FirstFull.PointID)
	assert.Empty(t, w.autoIn, "not auto-protection")
}

// A policy without compression gives first fulls without it; skipFirstFull gives none.
func TestConfigureProtectionUnitPolicyCompressionAndSkipFirstFull(t *testing.T) {
	w := newProtectionWorld(t)
	_, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: []string{"Sales"}, Policy: "plain"})
	require.NoError(t, err)
	require.Len(t, w.backups, 1)
	require.NotNil(t, w.backups[0].Compression)
	assert.False(t, *w.backups[0].Compression)

	w = newProtectionWorld(t)
	res, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: []string{"Sales"}, Policy: "daily", SkipFirstFull: true})
	require.NoError(t, err)
	assert.Empty(t, w.backups)
	require.Len(t, res.Protected, 1)
	assert.Nil(t, res.Protected[0].FirstFull)
	assert.Len(t, w.ensures, 1, "the schedules are still made")
}

// A first full that fails leaves protection in place: the call succeeds and says why.
func TestConfigureProtectionUnitFirstFullFailureKeepsProtection(t *testing.T) {
	w := newProtectionWorld(t)
	w.failFull["HR"] = true
	res, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: []string{"Sales", "HR"}, Policy: "daily"})
	require.NoError(t, err)
	require.Len(t, res.Protected, 2)
	assert.NotNil(t, res.Protected[0].FirstFull)
	assert.Empty(t, res.Protected[0].FirstFullError)
	assert.Nil(t, res.Protected[1].FirstFull)
	assert.Contains(t, res.Protected[1].FirstFullError, "HR cannot be backed up now")
	assert.NotEmpty(t, res.Protected[1].Schedules)
}

// All or nothing: one database the rules refuse, or one that does not exist, refuses the
// call naming each and why; nothing is recorded, scheduled or backed up.
func TestConfigureProtectionUnitRefusesUnsupportedDatabasesAllOrNothing(t *testing.T) {
	w := newProtectionWorld(t)
	_, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1",
		Databases: []string{"Sales", "Sales_snap", "Nope", "Old"}, Policy: "daily"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrDatabaseNotSupported, protocol.ErrorType(err))
	msg := err.Error()
	assert.Contains(t, msg, "Sales_snap: database snapshots cannot be backed up")
	assert.Contains(t, msg, "Nope: no such database on SQLVM1")
	assert.Contains(t, msg, "Old: it is OFFLINE, not ONLINE")
	assert.Contains(t, msg, "nothing was changed")
	assert.NotContains(t, msg, "Sales:", "the supported database is not listed as refused")
	assert.Empty(t, w.registers)
	assert.Empty(t, w.ensures)
	assert.Empty(t, w.backups)
	assert.Equal(t, 1, w.calls.count(protocol.ActivityDiscover), "a refusal is not retried")
}

// A database of another instance of the VM is not this instance's.
func TestConfigureProtectionUnitMatchesTheInstance(t *testing.T) {
	w := newProtectionWorld(t)
	_, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: []string{"Elsewhere"}, Policy: "daily"})
	assert.Equal(t, protocol.ErrDatabaseNotSupported, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "Elsewhere: no such database on SQLVM1")

	w = newProtectionWorld(t)
	_, err = w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: `SQLVM1\NOPE`, Databases: []string{"Sales"}, Policy: "daily"})
	assert.Equal(t, protocol.ErrInstanceNotManaged, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `does not manage instance SQLVM1\NOPE`)
	assert.Empty(t, w.registers)
}

// More than 50 databases in one call are refused before anything runs.
func TestConfigureProtectionUnitRefusesMoreThan50(t *testing.T) {
	w := newProtectionWorld(t)
	dbs := make([]string, protocol.MaxDatabasesPerConfigure+1)
	for i := range dbs {
		dbs[i] = fmt.Sprintf("Db%02d", i)
	}
	_, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: dbs, Policy: "daily"})
	assert.Equal(t, protocol.ErrTooManyDatabases, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "51 databases in one call")
	assert.Empty(t, w.calls.all())

	// Exactly 50 pass the limit (and are then checked against the inventory).
	w = newProtectionWorld(t)
	_, err = w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: dbs[:50], Policy: "daily"})
	assert.Equal(t, protocol.ErrDatabaseNotSupported, protocol.ErrorType(err))
}

// A policy that is not in the vault is the user's error, before the agent is asked.
func TestConfigureProtectionUnitUnknownPolicy(t *testing.T) {
	w := newProtectionWorld(t)
	_, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: []string{"Sales"}, Policy: "weekly"})
	assert.Equal(t, protocol.ErrPolicyNotFound, protocol.ErrorType(err))
	assert.Equal(t, []string{protocol.ActivityLoadPolicy + " weekly"}, w.calls.all(), "not retried, nothing else asked")
}

// Missing fields are named.
func TestConfigureProtectionUnitRejectsBadInput(t *testing.T) {
	w := newProtectionWorld(t)
	_, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily"})
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `"databases" (or "autoProtect")`)
	assert.Empty(t, w.calls.all())
}

// A VM without an agent: AgentUnavailable after the policy, before discovery.
func TestConfigureProtectionUnitVMWithoutAgent(t *testing.T) {
	w := newProtectionWorld(t)
	w.deadVMs["SQLVM1"] = true
	_, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Databases: []string{"Sales"}, Policy: "daily"})
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err))
	assert.Equal(t, []string{protocol.ActivityLoadPolicy, protocol.ActivityCheckAgent}, w.calls.names())
}

// Auto-protection without a list protects every protectable database of the instance
// (only that instance's) and records the instance for rediscovery.
func TestConfigureProtectionUnitAutoProtect(t *testing.T) {
	w := newProtectionWorld(t)
	res, err := w.configure(t, protocol.ConfigureProtectionInput{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily", AutoProtect: true})
	require.NoError(t, err)
	require.Len(t, w.registers, 1)
	assert.Equal(t, []string{"Sales", "HR"}, dbNames(w.registers[0].Databases))
	assert.Equal(t, []protocol.AutoProtectionInput{{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily"}}, w.autoIn)
	assert.Len(t, res.Protected, 2)
	assert.Len(t, w.backups, 2)
}

func itemRecord(instance, db, state string) map[string]any {
	return map[string]any{"schema": "sqlvault.item/v1", "itemId": vault.ItemID(instance, db), "vm": instance, "instance": instance,
		"database": db, "policy": "daily", "state": state}
}

// Rediscover protects, on each auto-protected instance, the protectable databases no item
// record knows (a stopped item stays stopped), with the instance's policy.
func TestRediscoverUnitProtectsOnlyNewDatabases(t *testing.T) {
	w := newProtectionWorld(t)
	w.instances = []protocol.AutoProtectedInstance{{VM: "SQLVM1", Instance: "SQLVM1", Policy: "plain"}}
	w.items = []map[string]any{itemRecord("SQLVM1", "Sales", "protected"), itemRecord("SQLVM1", "HR", "stopped-retain")}
	inv := w.inventory["SQLVM1"]
	inv.Instances[0].Databases = append(inv.Instances[0].Databases, protocol.DatabaseInfo{Name: "Orders",
		ItemID: vault.ItemID("SQLVM1", "Orders"), State: "ONLINE", Protectable: true, BackupTypes: []protocol.BackupType{protocol.Full}})
	w.inventory["SQLVM1"] = inv

	w.env.ExecuteWorkflow(protocol.WorkflowRediscover)
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	var res protocol.RediscoverResult
	require.NoError(t, w.env.GetWorkflowResult(&res))

	assert.Equal(t, []protocol.AutoProtectionInput{{List: true}}, w.autoIn, "only listed, not recorded again")
	require.Len(t, w.registers, 1)
	assert.Equal(t, []string{"Orders"}, dbNames(w.registers[0].Databases))
	assert.Equal(t, "plain", w.registers[0].Policy)
	require.Len(t, w.backups, 1)
	assert.Equal(t, "Orders", w.backups[0].Database)
	require.NotNil(t, w.backups[0].Compression)
	assert.False(t, *w.backups[0].Compression, "the instance's policy")
	require.Len(t, res.Protected, 1)
	assert.Equal(t, vault.ItemID("SQLVM1", "Orders"), res.Protected[0].ItemID)
	assert.Empty(t, res.Failed)
}

// An instance whose VM has no agent is skipped this time (not a failure: discovery runs
// again on schedule); the next instance is protected.
func TestRediscoverUnitSkipsAVMWithoutAgent(t *testing.T) {
	w := newProtectionWorld(t)
	w.deadVMs["SQLVM1"] = true
	w.instances = []protocol.AutoProtectedInstance{{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily"}, {VM: "SQLVM2", Instance: "SQLVM2", Policy: "daily"}}
	w.env.ExecuteWorkflow(protocol.WorkflowRediscover)
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	var res protocol.RediscoverResult
	require.NoError(t, w.env.GetWorkflowResult(&res))
	assert.NotContains(t, w.calls.all(), protocol.ActivityDiscover+" SQLVM1")
	assert.Contains(t, w.calls.all(), protocol.ActivityDiscover+" SQLVM2")
	require.Len(t, w.registers, 1)
	assert.Equal(t, "SQLVM2", w.registers[0].VM)
	assert.Len(t, res.Protected, 2)
	assert.Empty(t, res.Failed)
}

// Nothing new: nothing recorded, no backup.
func TestRediscoverUnitNothingNew(t *testing.T) {
	w := newProtectionWorld(t)
	w.instances = []protocol.AutoProtectedInstance{{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily"}}
	w.items = []map[string]any{itemRecord("SQLVM1", "Sales", "protected"), itemRecord("SQLVM1", "HR", "stopped-delete")}
	w.env.ExecuteWorkflow(protocol.WorkflowRediscover)
	require.NoError(t, w.env.GetWorkflowError())
	var res protocol.RediscoverResult
	require.NoError(t, w.env.GetWorkflowResult(&res))
	assert.Empty(t, res.Protected)
	assert.Empty(t, w.registers)
	assert.Empty(t, w.backups)
}

// Stop, keeping the data: schedules removed first, then the item marked stopped-retain,
// then its running backups cancelled; no retention runs.
func TestStopProtectionUnitRetain(t *testing.T) {
	w := newProtectionWorld(t)
	w.env.ExecuteWorkflow(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: "SQLVM1", Database: "Sales"})
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	item := vault.ItemID("SQLVM1", "Sales")
	assert.Equal(t, []string{protocol.ActivityEnsureSchedule + " " + item, protocol.ActivitySetItemState + " stopped-retain",
		protocol.ActivityCancelItemBackups + " " + item}, w.calls.all())
	assert.Equal(t, []protocol.EnsureSchedulesInput{{ItemID: item, Remove: true}}, w.ensures)
	assert.Equal(t, []protocol.SetItemStateInput{{ItemID: item, State: "stopped-retain"}}, w.states)
	assert.Empty(t, w.retention)
}

// softDeleteEnd is when the unit tests' SetItemState says a stopped-delete item's soft
// delete ends.
var softDeleteEnd = time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)

// Stop with delete: the same, and nothing is deleted: the result says when retention will
// delete the points (the soft-delete period SetItemState reported).
func TestStopProtectionUnitDelete(t *testing.T) {
	w := newProtectionWorld(t)
	w.env.ExecuteWorkflow(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: "SQLVM1", Database: "Sales", DeleteData: true})
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	item := vault.ItemID("SQLVM1", "Sales")
	assert.Equal(t, []string{protocol.ActivityEnsureSchedule, protocol.ActivitySetItemState, protocol.ActivityCancelItemBackups},
		w.calls.names())
	assert.Equal(t, []protocol.SetItemStateInput{{ItemID: item, State: "stopped-delete"}}, w.states)
	assert.Equal(t, []protocol.CancelItemBackupsInput{{ItemID: item}}, w.cancels)
	assert.Empty(t, w.retention, "soft delete: no point is deleted by the stop")
	var res protocol.StopProtectionResult
	require.NoError(t, w.env.GetWorkflowResult(&res))
	assert.Equal(t, protocol.StopProtectionResult{State: "stopped-delete", DeleteAfter: &softDeleteEnd}, res)
}

// A run that started before soft delete (its history says so) keeps deleting through
// retention right after the stop.
func TestStopProtectionUnitDeleteBeforeSoftDelete(t *testing.T) {
	w := newProtectionWorld(t)
	w.env.OnGetVersion(softDeleteChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	w.env.ExecuteWorkflow(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: "SQLVM1", Database: "Sales", DeleteData: true})
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	item := vault.ItemID("SQLVM1", "Sales")
	assert.Equal(t, []string{protocol.ActivityEnsureSchedule, protocol.ActivitySetItemState, protocol.ActivityCancelItemBackups,
		protocol.ActivityApplyRetention}, w.calls.names())
	assert.Equal(t, []protocol.ApplyRetentionInput{{ItemID: item}}, w.retention, "for real, not a dry run")
}

// Stopping an item that is not protected fails with NotProtected, at once, and cancels and
// deletes nothing.
func TestStopProtectionUnitNotProtected(t *testing.T) {
	w := newProtectionWorld(t)
	attempts := 0
	w.env.OnActivity(protocol.ActivitySetItemState, mock.Anything, mock.Anything).Return(func(context.Context, protocol.SetItemStateInput) (protocol.SetItemStateResult, error) {
		attempts++
		return protocol.SetItemStateResult{}, protocol.UserError(protocol.ErrNotProtected, "no protected item in the vault")
	})
	w.env.ExecuteWorkflow(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: "SQLVM1", Database: "Nope", DeleteData: true})
	require.True(t, w.env.IsWorkflowCompleted())
	assert.Equal(t, protocol.ErrNotProtected, protocol.ErrorType(w.env.GetWorkflowError()))
	assert.Equal(t, 1, attempts)
	assert.Empty(t, w.cancels)
	assert.Empty(t, w.retention)
}

// Resume: the item is protected again, then its schedules are made.
func TestResumeProtectionUnit(t *testing.T) {
	w := newProtectionWorld(t)
	w.env.ExecuteWorkflow(protocol.WorkflowResumeProtection, protocol.ResumeProtectionInput{Instance: "SQLVM1", Database: "Sales"})
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	item := vault.ItemID("SQLVM1", "Sales")
	assert.Equal(t, []string{protocol.ActivitySetItemState + " protected", protocol.ActivityEnsureSchedule + " " + item}, w.calls.all())
	assert.Equal(t, []protocol.SetItemStateInput{{ItemID: item, State: "protected"}}, w.states)
	assert.Equal(t, []protocol.EnsureSchedulesInput{{ItemID: item}}, w.ensures, "schedules made, not removed")
}

// Resuming an unknown item: NotProtected, and no schedule is made for it.
func TestResumeProtectionUnitNotProtected(t *testing.T) {
	w := newProtectionWorld(t)
	w.env.OnActivity(protocol.ActivitySetItemState, mock.Anything, mock.Anything).Return(protocol.SetItemStateResult{},
		protocol.UserError(protocol.ErrNotProtected, "no protected item in the vault"))
	w.env.ExecuteWorkflow(protocol.WorkflowResumeProtection, protocol.ResumeProtectionInput{Instance: "SQLVM1", Database: "Nope"})
	require.True(t, w.env.IsWorkflowCompleted())
	assert.Equal(t, protocol.ErrNotProtected, protocol.ErrorType(w.env.GetWorkflowError()))
	assert.Empty(t, w.ensures)
}
