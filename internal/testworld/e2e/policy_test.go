package e2e

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/starter"
)

// TestStarterPolicyWritesSerialize writes policies the way `sqlvault policy create` does
// (sqlvault.PutPolicy on the control side): two concurrent first writes of one name with
// different content serialize on the workflow ID, so exactly one creates the policy and the
// other, judged against what the first stored, is refused with PolicyExists; a write of the
// stored content succeeds unchanged; replace replaces.
func TestStarterPolicyWritesSerialize(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	ctx := context.Background()
	name := "pol-" + s.container // workflow IDs are per namespace, which parallel stacks share
	doc := func(logMinutes int) protocol.PutPolicyInput {
		p := policy.Policy{Name: name,
			Full:      policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: "02:00", TimeZone: "UTC"},
			Log:       &policy.LogSchedule{EveryMinutes: logMinutes},
			Retention: policy.Retention{Daily: &policy.Keep{Days: 30}, LogDays: 15}}
		require.NoError(t, p.Validate())
		b, err := json.Marshal(p)
		require.NoError(t, err)
		return protocol.PutPolicyInput{Name: name, Document: b}
	}
	stored := func() int {
		b, err := s.repo.Policy(ctx, name)
		require.NoError(t, err)
		var p policy.Policy
		require.NoError(t, json.Unmarshal(b, &p))
		return p.Log.EveryMinutes
	}

	var wg sync.WaitGroup
	results := map[int]error{}
	var mu sync.Mutex
	for _, minutes := range []int{60, 120} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := starter.PutPolicy(ctx, s.tc, s.controlQueue(), doc(minutes))
			mu.Lock()
			results[minutes] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	winner, loser := 60, 120
	if results[60] != nil {
		winner, loser = 120, 60
	}
	require.NoError(t, results[winner])
	require.Error(t, results[loser], "both first writes succeeded: they did not serialize")
	assert.Contains(t, results[loser].Error(), protocol.ErrPolicyExists)
	assert.Equal(t, winner, stored())
	id := protocol.PutPolicyWorkflowID(name)
	record(t, "put-policy-exists", s.history(id, ""))

	res, err := starter.PutPolicy(ctx, s.tc, s.controlQueue(), doc(winner))
	require.NoError(t, err)
	assert.Equal(t, protocol.PolicyUnchanged, res.Outcome)

	in := doc(loser)
	in.Replace = true
	res, err = starter.PutPolicy(ctx, s.tc, s.controlQueue(), in)
	require.NoError(t, err)
	assert.Equal(t, protocol.PolicyReplaced, res.Outcome)
	assert.Equal(t, loser, stored())
	record(t, "put-policy-replaced", s.history(id, ""))
}
