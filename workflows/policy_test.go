package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

func newPolicyEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(strictInput(PutPolicy), workflowOpts(protocol.WorkflowPutPolicy))
	env.RegisterActivityWithOptions(func(context.Context, protocol.PutPolicyInput) (protocol.PutPolicyResult, error) {
		return protocol.PutPolicyResult{}, nil
	}, activity.RegisterOptions{Name: protocol.ActivityPutPolicy})
	return env
}

var policyIn = protocol.PutPolicyInput{Name: "daily-30d", Document: json.RawMessage(`{"name":"daily-30d"}`), Replace: true}

func TestPutPolicyWritesThroughTheActivity(t *testing.T) {
	env := newPolicyEnv(t)
	var got protocol.PutPolicyInput
	calls := 0
	env.OnActivity(protocol.ActivityPutPolicy, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.PutPolicyInput) (protocol.PutPolicyResult, error) {
			calls++
			got = in
			if calls == 1 { // a vault hiccup is retried
				return protocol.PutPolicyResult{}, protocol.RetryableError(protocol.ErrVaultUnavailable, errors.New("503"), "write policy: 503")
			}
			return protocol.PutPolicyResult{Name: in.Name, Outcome: protocol.PolicyReplaced}, nil
		})
	env.ExecuteWorkflow(protocol.WorkflowPutPolicy, policyIn)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res protocol.PutPolicyResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, protocol.PutPolicyResult{Name: "daily-30d", Outcome: protocol.PolicyReplaced}, res)
	assert.Equal(t, 2, calls)
	assert.Equal(t, policyIn.Name, got.Name)
	assert.JSONEq(t, string(policyIn.Document), string(got.Document))
	assert.True(t, got.Replace)
}

// A refusal (other content without replace, an invalid document) is not retried: the
// workflow fails at once with the activity's named error.
func TestPutPolicyRefusalsAreNotRetried(t *testing.T) {
	for _, kind := range []string{protocol.ErrPolicyExists, protocol.ErrInvalidPolicy} {
		env := newPolicyEnv(t)
		calls := 0
		env.OnActivity(protocol.ActivityPutPolicy, mock.Anything, mock.Anything).Return(
			func(context.Context, protocol.PutPolicyInput) (protocol.PutPolicyResult, error) {
				calls++
				// Retryable as built: only the workflow's retry policy may stop it.
				return protocol.PutPolicyResult{}, temporal.NewApplicationError("refused", kind)
			})
		env.ExecuteWorkflow(protocol.WorkflowPutPolicy, policyIn)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		require.Error(t, err)
		assert.Equal(t, kind, protocol.ErrorType(err))
		assert.Equal(t, 1, calls, kind)
	}
}

func TestPutPolicyRefusesIncompleteInput(t *testing.T) {
	for _, raw := range []string{`{"name": "daily-30d"}`, `{"name": "daily-30d", "document": {}, "replaec": true}`} {
		env := newPolicyEnv(t)
		env.ExecuteWorkflow(protocol.WorkflowPutPolicy, json.RawMessage(raw))
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		require.Error(t, err, raw)
		assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err), raw)
	}
}
