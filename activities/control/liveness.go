package control

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// DefaultAgentGrace is how long after its agent was last seen a VM's steps still wait for it
// (a reboot, an agent upgrade): the same bound the workflows give a step to be picked up.
const DefaultAgentGrace = 30 * time.Minute

// DefaultAgentSettle is how long CheckAgent keeps looking for a first poller before it
// fails: an agent started a moment ago (a new VM, a restart) polls within seconds.
const DefaultAgentSettle = 10 * time.Second

// DefaultAgentCheckCache is how long a VM's "its agent polls now" answer is reused. When a
// fleet's schedules come due together, every backup of a VM checks the same agent within
// seconds; one answer per VM and window keeps that to one DescribeTaskQueue call and one
// vault write per VM instead of one per backup. A reused answer is at most this old, far
// inside the grace period (DefaultAgentGrace) a known agent gets anyway.
const DefaultAgentCheckCache = 15 * time.Second

// agentCheckCache holds recent positive answers per VM and makes concurrent checks of one VM
// share a single lookup.
type agentCheckCache struct {
	mu      sync.Mutex
	answers map[string]cachedAgentCheck
	group   singleflight.Group
}

type cachedAgentCheck struct {
	at  time.Time
	res protocol.CheckAgentResult
}

func (a *agentCheckCache) get(vm string, ttl time.Duration) (protocol.CheckAgentResult, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.answers[vm]
	if !ok || time.Since(c.at) >= ttl {
		return protocol.CheckAgentResult{}, false
	}
	return c.res, true
}

func (a *agentCheckCache) put(vm string, res protocol.CheckAgentResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.answers == nil {
		a.answers = map[string]cachedAgentCheck{}
	}
	a.answers[vm] = cachedAgentCheck{at: time.Now(), res: res}
}

// CheckAgent tells a workflow, before it sends a step to a VM's agent queue, whether anything
// will pick it up. Temporal lists a queue's pollers with their last poll time for five
// minutes after that poll (temporalio/cli docs/task-queue/describe.md); the vault keeps the
// last time this check saw one (vault.AgentRecord) for longer. A VM polled now, or seen
// within the grace period, passes; any other fails within seconds (AgentSettle: time for an
// agent that is starting right now to poll) with AgentUnavailable, naming the VM and when its
// agent was last seen, instead of holding the workflow for half an hour.
//
// A "polls now" answer is reused for AgentCheckCache, and concurrent checks of one VM share
// one lookup, so a fleet-wide burst of backups costs one lookup per VM, not one per backup.
func (c *Control) CheckAgent(ctx context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
	ttl := c.AgentCheckCache
	if ttl == 0 {
		ttl = DefaultAgentCheckCache
	}
	if ttl < 0 {
		return c.checkAgent(ctx, in)
	}
	key := strings.ToLower(in.VM) // VM names compare case-insensitively (vault.AgentRecord)
	if res, ok := c.agentChecks.get(key, ttl); ok {
		res.VM = in.VM
		return res, nil
	}
	v, err, _ := c.agentChecks.group.Do(key, func() (any, error) {
		res, err := c.checkAgent(ctx, in)
		if err == nil && res.Polling {
			c.agentChecks.put(key, res)
		}
		return res, err
	})
	res := v.(protocol.CheckAgentResult)
	res.VM = in.VM
	return res, err
}

// checkAgent is CheckAgent without the cache.
func (c *Control) checkAgent(ctx context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
	res := protocol.CheckAgentResult{VM: in.VM}
	if c.Temporal == nil {
		return res, protocol.RetryableError(protocol.ErrAgentUnavailable, nil, "the control worker has no Temporal client to check agents with")
	}
	queue := protocol.AgentTaskQueue(in.VM)
	newest, identity, err := c.newestPoller(ctx, queue)
	if err != nil {
		return res, err
	}
	grace := c.AgentGrace
	if grace <= 0 {
		grace = DefaultAgentGrace
	}
	if !newest.IsZero() {
		return c.agentSeen(ctx, in.VM, newest, identity), nil
	}
	rec, err := c.Vault.AgentSeen(ctx, in.VM)
	if err != nil {
		return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read the agent record of %s: %v", in.VM, err)
	}
	now := time.Now().UTC()
	if rec == nil || now.Sub(rec.LastSeen) >= grace {
		// Before failing, give an agent that is starting right now the moment it needs to poll.
		settle := c.AgentSettle
		if settle <= 0 {
			settle = DefaultAgentSettle
		}
		for deadline := time.Now().Add(settle); newest.IsZero() && time.Now().Before(deadline); {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(min(time.Second, settle)):
			}
			if newest, identity, err = c.newestPoller(ctx, queue); err != nil {
				return res, err
			}
		}
		if !newest.IsZero() {
			return c.agentSeen(ctx, in.VM, newest, identity), nil
		}
	}
	if rec != nil && now.Sub(rec.LastSeen) < grace {
		// A known agent, briefly down: its steps wait for it as they always did.
		res.LastSeen = &rec.LastSeen
		if c.Log != nil {
			c.Log.Warn("no agent polls the VM's queue now; waiting for it within its grace period",
				zap.String("vm", in.VM), zap.Time("lastSeen", rec.LastSeen), zap.Duration("grace", grace))
		}
		return res, nil
	}
	seen := "has never been seen polling"
	if rec != nil {
		seen = fmt.Sprintf("was last seen at %s (%s ago)", rec.LastSeen.Format(time.RFC3339), now.Sub(rec.LastSeen).Round(time.Second))
	}
	return res, protocol.UserError(protocol.ErrAgentUnavailable,
		"no sqlvault agent is running for VM %q: nothing polls task queue %s, and its agent %s: start the agent on that VM (worker with agent.vm: %s), or check the VM name (--vm / the instance's machine name)",
		in.VM, queue, seen, in.VM)
}

// agentSeen records that vm's agent polled at t. Best effort: the record only extends the
// grace period of a later check.
func (c *Control) agentSeen(ctx context.Context, vm string, t time.Time, identity string) protocol.CheckAgentResult {
	if err := c.Vault.PutAgentSeen(ctx, &vault.AgentRecord{VM: vm, LastSeen: t, Identity: identity}); err != nil && c.Log != nil {
		c.Log.Warn("could not record the agent as seen", zap.String("vm", vm), zap.Error(err))
	}
	return protocol.CheckAgentResult{VM: vm, Polling: true, LastSeen: &t}
}

// newestPoller returns the newest poll time of queue's pollers (zero: none listed).
func (c *Control) newestPoller(ctx context.Context, queue string) (time.Time, string, error) {
	d, err := c.Temporal.DescribeTaskQueue(ctx, queue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		return time.Time{}, "", protocol.RetryableError(protocol.ErrAgentUnavailable, err, "describe task queue %s: %v", queue, err)
	}
	var newest time.Time
	identity := ""
	for _, p := range d.GetPollers() {
		if t := p.GetLastAccessTime().AsTime(); t.After(newest) {
			newest, identity = t, p.GetIdentity()
		}
	}
	return newest, identity, nil
}

// ScheduleSkips reads, from Temporal's schedule info (ScheduleInfo.NumActionsSkippedOverlap
// and NumActionsMissedCatchupWindow in go.temporal.io/sdk/client), how many runs each
// schedule did not start: with the overlap policy skipping while a run is still going, a
// stalled backup shows here as a growing count, which the watchdog reports. A schedule that
// does not exist is an error naming it.
func (c *Control) ScheduleSkips(ctx context.Context, in protocol.ScheduleSkipsInput) ([]protocol.ScheduleSkips, error) {
	if c.Temporal == nil {
		return nil, protocol.RetryableError(protocol.ErrBackupFailed, nil, "the control worker has no Temporal client")
	}
	out := make([]protocol.ScheduleSkips, 0, len(in.ScheduleIDs))
	for _, id := range in.ScheduleIDs {
		d, err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			return nil, protocol.RetryableError(protocol.ErrBackupFailed, err, "describe schedule %s: %v", id, err)
		}
		out = append(out, protocol.ScheduleSkips{ScheduleID: id, SkippedOverlap: d.Info.NumActionsSkippedOverlap,
			MissedCatchupWindow: d.Info.NumActionsMissedCatchupWindow, Actions: d.Info.NumActions})
	}
	return out, nil
}
