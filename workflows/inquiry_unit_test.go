package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Inquiry asks the VM's agent (after checking one runs) and returns its inventory as is.
func TestInquiryUnitReturnsTheAgentsInventory(t *testing.T) {
	w := newProtectionWorld(t)
	w.env.ExecuteWorkflow(protocol.WorkflowInquiry, protocol.InquiryInput{VM: "SQLVM2"})
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	var res protocol.InquiryResult
	require.NoError(t, w.env.GetWorkflowResult(&res))
	assert.Equal(t, salesInventory("SQLVM2"), res)
	assert.Equal(t, []string{protocol.ActivityCheckAgent + " SQLVM2", protocol.ActivityDiscover + " SQLVM2"}, w.calls.all())
	assert.Equal(t, protocol.AgentTaskQueue("SQLVM2"), w.calls.queue(protocol.ActivityDiscover))
}

// Without a VM it is refused before anything runs.
func TestInquiryUnitRequiresAVM(t *testing.T) {
	w := newProtectionWorld(t)
	w.env.ExecuteWorkflow(protocol.WorkflowInquiry, protocol.InquiryInput{VM: "  "})
	require.True(t, w.env.IsWorkflowCompleted())
	err := w.env.GetWorkflowError()
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `"vm" is required`)
	assert.Empty(t, w.calls.all())
}

// The agent's user error (its login is not sysadmin) is the result, not retried.
func TestInquiryUnitAgentUserErrorIsNotRetried(t *testing.T) {
	w := newProtectionWorld(t)
	asked := 0
	w.env.OnActivity(protocol.ActivityDiscover, mock.Anything, mock.Anything).Return(
		func(context.Context, protocol.InquiryInput) (protocol.InquiryResult, error) {
			asked++
			return protocol.InquiryResult{}, protocol.UserError(protocol.ErrNotSysadmin, "login sqlvault is not sysadmin")
		})
	w.env.ExecuteWorkflow(protocol.WorkflowInquiry, protocol.InquiryInput{VM: "SQLVM1"})
	require.True(t, w.env.IsWorkflowCompleted())
	assert.Equal(t, protocol.ErrNotSysadmin, protocol.ErrorType(w.env.GetWorkflowError()))
	assert.Equal(t, 1, asked)
}

// The liveness check: a VM whose agent is unavailable fails the inquiry with
// AgentUnavailable, once, before anything is sent to the agent's queue.
func TestLivenessUnitAgentUnavailableEndsTheInquiry(t *testing.T) {
	w := newProtectionWorld(t)
	w.deadVMs["SQLVM1"] = true
	w.env.ExecuteWorkflow(protocol.WorkflowInquiry, protocol.InquiryInput{VM: "SQLVM1"})
	require.True(t, w.env.IsWorkflowCompleted())
	err := w.env.GetWorkflowError()
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `"SQLVM1"`)
	assert.Equal(t, []string{protocol.ActivityCheckAgent + " SQLVM1"}, w.calls.all(), "not retried; Discover never asked")
}

// A check that cannot be made (the control worker's vault is briefly unreachable) is
// retried, and the inquiry goes on once it answers.
func TestLivenessUnitRetriesACheckThatCouldNotBeMade(t *testing.T) {
	w := newProtectionWorld(t)
	attempts := 0
	w.env.OnActivity(protocol.ActivityCheckAgent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
			attempts++
			if attempts < 3 {
				return protocol.CheckAgentResult{}, protocol.RetryableError(protocol.ErrVaultUnavailable, errors.New("503"), "read the agent record")
			}
			return protocol.CheckAgentResult{VM: in.VM, Polling: true}, nil
		})
	w.env.ExecuteWorkflow(protocol.WorkflowInquiry, protocol.InquiryInput{VM: "SQLVM1"})
	require.True(t, w.env.IsWorkflowCompleted())
	require.NoError(t, w.env.GetWorkflowError())
	assert.Equal(t, 3, attempts)
	assert.Equal(t, 1, w.calls.count(protocol.ActivityDiscover))
}

// The check in a restore: the target VM's agent is asked about, and its absence ends the
// restore before the plan.
func TestLivenessUnitAgentUnavailableEndsTheRestore(t *testing.T) {
	w := newRestoreWorld(t)
	var asked []string
	w.env.OnActivity(protocol.ActivityCheckAgent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in protocol.CheckAgentInput) (protocol.CheckAgentResult, error) {
			asked = append(asked, in.VM)
			return protocol.CheckAgentResult{}, protocol.UserError(protocol.ErrAgentUnavailable, "no sqlvault agent is running for VM %q", in.VM)
		})
	_, err := w.run(t, protocol.RestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "p", TargetVM: "DRVM"})
	assert.Equal(t, protocol.ErrAgentUnavailable, protocol.ErrorType(err))
	assert.Equal(t, []string{"DRVM"}, asked)
	assert.Empty(t, w.calls.all(), "no plan, nothing on the agent's queue")
}
