package control

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// pollersClient answers DescribeTaskQueue with fixed pollers (nil: none); the rest of
// client.Client is never called.
type pollersClient struct {
	client.Client
	mu      sync.Mutex
	pollers map[string][]time.Time
	asked   []string
	delay   time.Duration // each answer takes this long
}

func (p *pollersClient) DescribeTaskQueue(_ context.Context, queue string, typ enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	time.Sleep(p.delay)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, queue)
	if typ != enumspb.TASK_QUEUE_TYPE_ACTIVITY {
		panic("agents poll activity queues only")
	}
	var res workflowservice.DescribeTaskQueueResponse
	for _, t := range p.pollers[queue] {
		res.Pollers = append(res.Pollers, &taskqueuepb.PollerInfo{LastAccessTime: timestamppb.New(t), Identity: "agent@vm"})
	}
	return &res, nil
}

func TestCheckAgent(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	repo := vault.NewRepository(vault.NewMemStore(), nil)
	tc := &pollersClient{pollers: map[string][]time.Time{protocol.AgentTaskQueue("SQLVM1"): {now.Add(-20 * time.Second), now.Add(-3 * time.Second)}}}
	c := &Control{Vault: repo, Temporal: tc, AgentSettle: 50 * time.Millisecond, AgentCheckCache: -1}

	// Polled now: alive, and the vault remembers it.
	res, err := c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "SQLVM1"})
	require.NoError(t, err)
	assert.True(t, res.Polling)
	require.NotNil(t, res.LastSeen)
	assert.WithinDuration(t, now.Add(-3*time.Second), *res.LastSeen, time.Millisecond)
	rec, err := repo.AgentSeen(ctx, "sqlvm1")
	require.NoError(t, err)
	require.NotNil(t, rec)
	assert.WithinDuration(t, now.Add(-3*time.Second), rec.LastSeen, time.Millisecond)

	// The agent goes away (Temporal forgets its poller): within the grace period it is waited for.
	tc.pollers = nil
	require.NoError(t, repo.PutAgentSeen(ctx, &vault.AgentRecord{VM: "SQLVM1", LastSeen: now.Add(-10 * time.Minute)}))
	res, err = c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "SQLVM1"})
	require.NoError(t, err, "a known agent briefly down keeps its grace period")
	assert.False(t, res.Polling)

	// Past the grace period: AgentUnavailable naming the VM and when it was last seen.
	last := now.Add(-2 * time.Hour)
	require.NoError(t, repo.PutAgentSeen(ctx, &vault.AgentRecord{VM: "SQLVM1", LastSeen: last}))
	_, err = c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "SQLVM1"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `"SQLVM1"`)
	assert.Contains(t, err.Error(), last.Format(time.RFC3339))

	// Never seen: AgentUnavailable at once, saying so.
	_, err = c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "NOPE"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `"NOPE"`)
	assert.Contains(t, err.Error(), "never been seen")
	assert.Equal(t, protocol.AgentTaskQueue("NOPE"), tc.asked[len(tc.asked)-1])

	// A shorter configured grace applies.
	require.NoError(t, repo.PutAgentSeen(ctx, &vault.AgentRecord{VM: "SQLVM1", LastSeen: now.Add(-10 * time.Minute)}))
	c.AgentGrace = 5 * time.Minute
	_, err = c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "SQLVM1"})
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err))
}

// A burst of backups of one VM's databases asks Temporal and writes the vault once: the
// concurrent checks share one lookup, and later ones within AgentCheckCache reuse it. Only a
// "polls now" answer is reused: once it expires, a VM whose agent went away is asked again.
func TestCheckAgentAsksOncePerVMAndWindow(t *testing.T) {
	ctx := context.Background()
	store := &vault.CountingStore{Store: vault.NewMemStore()}
	repo := vault.NewRepository(store, nil)
	tc := &pollersClient{delay: 50 * time.Millisecond, pollers: map[string][]time.Time{
		protocol.AgentTaskQueue("SQLVM1"): {time.Now()}, protocol.AgentTaskQueue("SQLVM2"): {time.Now()}}}
	c := &Control{Vault: repo, Temporal: tc, AgentSettle: 50 * time.Millisecond, AgentCheckCache: 300 * time.Millisecond}

	puts0 := store.Snapshot()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vm := []string{"SQLVM1", "sqlvm1", "SQLVM2"}[i%3]
			res, err := c.CheckAgent(ctx, protocol.CheckAgentInput{VM: vm})
			if err == nil && (!res.Polling || res.VM != vm) {
				err = fmt.Errorf("check of %s answered %+v", vm, res)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	tc.mu.Lock()
	assert.ElementsMatch(t, []string{protocol.AgentTaskQueue("SQLVM1"), protocol.AgentTaskQueue("SQLVM2")}, tc.asked,
		"one lookup per VM (names compare case-insensitively)")
	tc.mu.Unlock()
	puts := store.Snapshot().Sub(puts0)
	assert.Equal(t, int64(2), puts.Puts, "one agent record written per VM")

	// The agent goes away and its record ages past the grace period: the reused answer holds
	// only until the window ends, then the check fails as it would have without the cache.
	tc.mu.Lock()
	tc.pollers = nil
	tc.mu.Unlock()
	require.NoError(t, repo.PutAgentSeen(ctx, &vault.AgentRecord{VM: "SQLVM1", LastSeen: time.Now().Add(-2 * time.Hour)}))
	res, err := c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "SQLVM1"})
	require.NoError(t, err)
	assert.True(t, res.Polling, "within the window the answer is reused")
	time.Sleep(350 * time.Millisecond)
	_, err = c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "SQLVM1"})
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err), "after the window the VM is asked again")
	// A failed answer is never reused: the agent coming back is seen at the next check.
	tc.mu.Lock()
	tc.pollers = map[string][]time.Time{protocol.AgentTaskQueue("SQLVM1"): {time.Now()}}
	tc.mu.Unlock()
	res, err = c.CheckAgent(ctx, protocol.CheckAgentInput{VM: "SQLVM1"})
	require.NoError(t, err)
	assert.True(t, res.Polling)
}

// startingClient lists no poller until its third DescribeTaskQueue: an agent starting up.
type startingClient struct {
	client.Client
	calls int
}

func (p *startingClient) DescribeTaskQueue(context.Context, string, enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	p.calls++
	if p.calls < 3 {
		return &workflowservice.DescribeTaskQueueResponse{}, nil
	}
	return &workflowservice.DescribeTaskQueueResponse{Pollers: []*taskqueuepb.PollerInfo{{LastAccessTime: timestamppb.Now()}}}, nil
}

// An agent that starts while the check runs is found: the check looks again for AgentSettle.
func TestCheckAgentWaitsForAnAgentStartingNow(t *testing.T) {
	tc := &startingClient{}
	c := &Control{Vault: vault.NewRepository(vault.NewMemStore(), nil), Temporal: tc, AgentSettle: 5 * time.Second}
	res, err := c.CheckAgent(context.Background(), protocol.CheckAgentInput{VM: "NEWVM"})
	require.NoError(t, err)
	assert.True(t, res.Polling)
	assert.Equal(t, 3, tc.calls)
}
