package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// watchWith runs watch as `backup --wait` does, against tc, and returns its error and output.
func watchWith(t *testing.T, tc client.Client, tcfg config.Temporal) (error, string) {
	t.Helper()
	cmd := &cobra.Command{}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetContext(context.Background())
	err := watch(cmd, &globals{}, tc, tcfg, true,
		func(ctx context.Context, tc client.Client, queue string) (client.WorkflowRun, error) {
			return StartBackup(ctx, tc, queue, protocol.BackupInput{Instance: "SQLVM1", Database: "SalesDB", Type: protocol.Full}, io.Discard, true)
		}, WaitBackup, func(w io.Writer, r *protocol.BackupResult) { printPoint(w, r.RecoveryPoint) })
	return err, out.String()
}

// When the server stops answering during a wait, the error says which server was lost,
// that the workflow may still run, and the command that shows it again; a wait that ends
// because the workflow failed is not mistaken for it.
func TestWaitSaysWhenTheServerIsLost(t *testing.T) {
	tcfg := config.Temporal{Address: "127.0.0.1:7233", Namespace: "default", ControlTaskQueue: "sqlvault-control"}
	id := protocol.BackupWorkflowID("SQLVM1~SalesDB", protocol.Full) // only shown, never parsed
	for _, lost := range []error{context.DeadlineExceeded, serviceerror.NewUnavailable("connection refused"),
		serviceerror.NewDeadlineExceeded("context deadline exceeded")} {
		run := &mocks.WorkflowRun{}
		run.On("GetID").Return(id)
		run.On("GetRunID").Return("r1")
		run.On("Get", mock.Anything, mock.Anything).Return(lost)
		tc := &mocks.Client{}
		tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, protocol.WorkflowBackup, mock.Anything).Return(run, nil)
		err, _ := watchWith(t, tc, tcfg)
		require.Error(t, err)
		var ls *LostServerError
		require.ErrorAs(t, err, &ls, "%v", lost)
		msg := err.Error()
		assert.Contains(t, msg, "lost the connection to the Temporal server at 127.0.0.1:7233 while waiting for workflow "+id)
		assert.Contains(t, msg, "may still be running")
		assert.Contains(t, msg, "temporal workflow describe --workflow-id "+id+" --address 127.0.0.1:7233\n")
		assert.ErrorIs(t, err, lost, "the cause is kept")
	}

	// A workflow failure is the workflow's, and named as before.
	run := &mocks.WorkflowRun{}
	run.On("GetID").Return(id)
	run.On("GetRunID").Return("r1")
	run.On("Get", mock.Anything, mock.Anything).Return(errors.New("workflow execution error: DatabaseNotFound"))
	tc := &mocks.Client{}
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, protocol.WorkflowBackup, mock.Anything).Return(run, nil)
	err, _ := watchWith(t, tc, config.Temporal{Address: "t.example.com:7233", Namespace: "prod ns"})
	require.Error(t, err)
	var ls *LostServerError
	assert.False(t, errors.As(err, &ls))
	assert.Equal(t, "temporal workflow describe --workflow-id 'a b' --address t.example.com:7233 --namespace 'prod ns'",
		describeCommand(config.Temporal{Address: "t.example.com:7233", Namespace: "prod ns"}, "a b"))
}

// Against a real server (no worker, so the backup stays running): a second start of a
// backup of the same lane attaches to the running one and says so, with --wait and without,
// and the first keeps its run; a restore into a database being restored is refused.
func TestBackupAlreadyRunningIsAttachedToAndSaid(t *testing.T) {
	tp := testenv.TemporalT(t)
	base := []string{"--instance", "SQLVM1", "--database", "SalesDB", "--temporal-address", tp.HostPort}
	out, err := runCLI(t, append([]string{"backup", "--type", "full", "--json"}, base...)...)
	require.NoError(t, err, out)
	var first struct{ WorkflowID, RunID string }
	require.NoError(t, json.Unmarshal([]byte(out), &first), out)
	require.NotEmpty(t, first.RunID)

	// Without --wait: the running one's IDs, and why no other started.
	out, err = runCLI(t, append([]string{"backup", "--type", "differential"}, base...)...)
	require.NoError(t, err, out)
	assert.Contains(t, out, "a full backup of SalesDB on SQLVM1 is already running (workflow ID "+first.WorkflowID+", run "+first.RunID+
		"); not starting another; it ends before another data backup of the database can start\n")
	assert.Contains(t, out, "started "+first.WorkflowID+" (run "+first.RunID+")")

	// With --wait: it waits for the running one (cut short here: nothing polls its queue).
	root := NewRoot()
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetErr(&buf)
	root.SetArgs(append([]string{"backup", "--type", "full", "--wait"}, base...))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	require.Error(t, err)
	assert.Contains(t, buf.String(), "a full backup of SalesDB on SQLVM1 is already running (workflow ID "+first.WorkflowID+", run "+first.RunID+
		"); waiting for it instead of starting another\n")
	var ls *LostServerError
	assert.False(t, errors.As(err, &ls), "the command's own deadline is not a lost server: %v", err)

	// A log backup is another lane: it starts.
	out, err = runCLI(t, append([]string{"backup", "--type", "log", "--json"}, base...)...)
	require.NoError(t, err, out)
	assert.NotContains(t, out, "already running")

	d, err := tp.Client.DescribeWorkflowExecution(context.Background(), first.WorkflowID, "")
	require.NoError(t, err)
	assert.Equal(t, first.RunID, d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "the first run is the one running")

	restore := append([]string{"restore", "--point", "p1", "--as-name", "SalesCopy"}, base...)
	_, err = runCLI(t, restore...)
	require.NoError(t, err)
	_, err = runCLI(t, restore...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a restore into SalesCopy is already running")
}
