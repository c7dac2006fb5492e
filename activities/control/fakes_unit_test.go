package control

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// unitTemporal is the part of the Temporal client the control activities use, in memory:
// schedules (create, describe, update, pause, delete) and workflow executions (describe,
// cancel). Anything else panics (the embedded nil interface).
type unitTemporal struct {
	client.Client
	mu        sync.Mutex
	schedules map[string]*unitSchedule
	// running lists workflow IDs that run until cancelled; closeAfter is how many
	// describes after its cancel a workflow still reports running.
	running    map[string]bool
	closeAfter int
	cancelled  []string
	describes  map[string]int
}

type unitSchedule struct {
	opts    client.ScheduleOptions
	paused  bool
	updates int
	info    client.ScheduleInfo
}

func newUnitTemporal() *unitTemporal {
	return &unitTemporal{schedules: map[string]*unitSchedule{}, running: map[string]bool{}, describes: map[string]int{}}
}

func (u *unitTemporal) ScheduleClient() client.ScheduleClient { return unitScheduleClient{u} }

func (u *unitTemporal) schedule(id string) *unitSchedule {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.schedules[id]
}

func (u *unitTemporal) scheduleIDs() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for id := range u.schedules {
		out = append(out, id)
	}
	return out
}

func (u *unitTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	run, known := u.running[id]
	if !known {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	status := enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	if run {
		status = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}
	for _, c := range u.cancelled {
		if c == id {
			u.describes[id]++
			if u.describes[id] > u.closeAfter {
				status = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
			}
		}
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: status}}, nil
}

func (u *unitTemporal) CancelWorkflow(_ context.Context, id, _ string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.cancelled = append(u.cancelled, id)
	return nil
}

type unitScheduleClient struct{ u *unitTemporal }

func (c unitScheduleClient) Create(ctx context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	c.u.mu.Lock()
	defer c.u.mu.Unlock()
	if _, ok := c.u.schedules[o.ID]; ok {
		return nil, temporal.ErrScheduleAlreadyRunning
	}
	c.u.schedules[o.ID] = &unitSchedule{opts: o, paused: o.Paused}
	return unitHandle{c.u, o.ID}, nil
}

func (c unitScheduleClient) List(context.Context, client.ScheduleListOptions) (client.ScheduleListIterator, error) {
	panic("not used by the control activities")
}

func (c unitScheduleClient) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	return unitHandle{c.u, id}
}

type unitHandle struct {
	u  *unitTemporal
	id string
}

func (h unitHandle) GetID() string { return h.id }

func (h unitHandle) Delete(context.Context) error {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	if _, ok := h.u.schedules[h.id]; !ok {
		return serviceerror.NewNotFound("schedule not found")
	}
	delete(h.u.schedules, h.id)
	return nil
}

func (h unitHandle) Backfill(context.Context, client.ScheduleBackfillOptions) error {
	panic("not used")
}

func (h unitHandle) Describe(context.Context) (*client.ScheduleDescription, error) {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	s, ok := h.u.schedules[h.id]
	if !ok {
		return nil, serviceerror.NewNotFound("schedule not found")
	}
	spec := s.opts.Spec
	return &client.ScheduleDescription{Schedule: client.Schedule{Action: s.opts.Action, Spec: &spec,
		State: &client.ScheduleState{Paused: s.paused, Note: s.opts.Note}}, Info: s.info}, nil
}

func (h unitHandle) Update(_ context.Context, o client.ScheduleUpdateOptions) error {
	d, err := h.Describe(context.Background())
	if err != nil {
		return err
	}
	up, err := o.DoUpdate(client.ScheduleUpdateInput{Description: *d})
	if err != nil {
		return err
	}
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	s := h.u.schedules[h.id]
	if up.Schedule.Spec != nil {
		s.opts.Spec = *up.Schedule.Spec
	}
	s.opts.Action = up.Schedule.Action
	s.updates++
	return nil
}

func (h unitHandle) Trigger(context.Context, client.ScheduleTriggerOptions) error { panic("not used") }

func (h unitHandle) Pause(context.Context, client.SchedulePauseOptions) error {
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	h.u.schedules[h.id].paused = true
	return nil
}

func (h unitHandle) Unpause(context.Context, client.ScheduleUnpauseOptions) error { panic("not used") }

// unitControl is a Control over an in-memory vault and Temporal, with its activities
// registered in Temporal's activity test environment, as the worker registers them.
type unitControl struct {
	c    *Control
	repo *vault.Repository
	mem  *vault.MemStore
	tc   *unitTemporal
	env  *testsuite.TestActivityEnvironment
	now  time.Time
}

func newUnitControl(t *testing.T) *unitControl {
	u := &unitControl{mem: vault.NewMemStore(), tc: newUnitTemporal(), now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	zero, err := blockcrypt.NewKey(make([]byte, blockcrypt.KeySize)) // unitStream's key
	if err != nil {
		panic(err)
	}
	u.repo = vault.NewRepository(u.mem, nil).WithKeys(vault.Keys{zero})
	u.c = &Control{Vault: u.repo, Temporal: u.tc, ControlQueue: "sqlvault-control", Now: func() time.Time { return u.now },
		LeaseWait: 50 * time.Millisecond}
	var s testsuite.WorkflowTestSuite
	u.env = s.NewTestActivityEnvironment()
	u.c.Register(u.env)
	return u
}

// run executes the named activity and decodes its result into out (unless nil).
func (u *unitControl) run(t *testing.T, out any, name string, args ...any) error {
	t.Helper()
	v, err := u.env.ExecuteActivity(name, args...)
	if err != nil {
		return err
	}
	if out != nil && v.HasValue() {
		require.NoError(t, v.Get(out))
	}
	return nil
}

// wire is v as its JSON object: what crosses a workflow's history.
func unitWire(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}
