package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// simAgent is an agent for one simulated instance SQLVM1 (no endpoint, no vault: the
// checks under test come first), run through Temporal's activity test environment.
func simAgent(t *testing.T, roots ...string) (*Agent, *sqlsim.Instance, *testsuite.TestActivityEnvironment) {
	t.Helper()
	sim := sqlsim.New(sqlsim.Config{})
	t.Cleanup(func() { _ = sim.Close() })
	inst, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "SQLVM1"})
	require.NoError(t, err)
	conn, err := sqlserver.Open(inst.DSN("sa", "Sim-Passw0rd", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	a := &Agent{VM: "SQLVM1", Instances: []Instance{{Name: "SQLVM1", Conn: conn}}, RestoreRoots: roots}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a.Register(env)
	return a, inst, env
}

func requireInvalid(t *testing.T, err error, contains string) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), contains)
}

// requirePathRefused: a folder outside agent.restoreRoots fails with its own named,
// non-retryable error.
func requirePathRefused(t *testing.T, err error, contains string) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, protocol.ErrPathNotAllowed, protocol.ErrorType(err), "%v", err)
	assert.True(t, nonRetryable(err), "%v", err)
	assert.Contains(t, err.Error(), contains)
}

func nonRetryable(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.NonRetryable()
}

// Issue 11, item 9: VerifyDatabase with drop dropped whatever database it was given. It
// drops only a verify-restore's scratch database, by its generated name.
func TestVerifyDropsOnlyScratchDatabases(t *testing.T) {
	_, inst, env := simAgent(t)
	_, err := inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Payroll"})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(protocol.ActivityVerifyDatabase, protocol.VerifyDatabaseInput{TargetInstance: "SQLVM1", Database: "Payroll", Drop: true})
	requireInvalid(t, err, "refusing to drop [Payroll]")
	_, exists := inst.Database("Payroll")
	assert.True(t, exists, "Payroll is still there")

	scratch := protocol.VerifyScratchName("Payroll", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	_, err = inst.CreateDatabase(sqlsim.DatabaseSpec{Name: scratch})
	require.NoError(t, err)
	v, err := env.ExecuteActivity(protocol.ActivityVerifyDatabase, protocol.VerifyDatabaseInput{TargetInstance: "SQLVM1", Database: scratch, Drop: true})
	require.NoError(t, err)
	var res protocol.VerifyDatabaseResult
	require.NoError(t, v.Get(&res))
	assert.True(t, res.OK, res.Message)
	_, exists = inst.Database(scratch)
	assert.False(t, exists, "the scratch database is dropped")
}

// Issue 11, item 13: the agent recomputes the item from SQL Server's own view and refuses
// a stream that would write the database's backup under another item.
func TestStreamRefusesAnItemIDThatIsNotTheDatabases(t *testing.T) {
	_, inst, env := simAgent(t)
	_, err := inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Sales"})
	require.NoError(t, err)
	other := vault.ItemID("SQLVM1", "Payroll")
	_, err = env.ExecuteActivity(protocol.ActivityStreamBackup, protocol.StreamBackupInput{Instance: "SQLVM1", Database: "Sales",
		Type: protocol.Full, ItemID: other, PointID: "20261126T101530Z-full-01a2b3c4d5", Stripes: 1})
	requireInvalid(t, err, "is item "+vault.ItemID("SQLVM1", "Sales"))
	_, err = env.ExecuteActivity(protocol.ActivityStreamBackup, protocol.StreamBackupInput{Instance: "SQLVM1", Database: "Sales",
		Type: protocol.Full, ItemID: vault.ItemID("SQLVM1", "Sales"), PointID: "../../other-item/x", Stripes: 1})
	requireInvalid(t, err, "not a recovery point ID")
}

// Issue 11, items 5 and 13: names that would end a comment line and paths outside
// agent.restoreRoots are refused by the agent itself, whatever the workflow sent.
func TestAgentRefusesUnsafeNamesAndPaths(t *testing.T) {
	root := t.TempDir()
	_, inst, env := simAgent(t, root)
	_, err := inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Payroll"})
	require.NoError(t, err)
	evil := "Sales_copy\nDROP DATABASE Payroll;--"
	plan := protocol.RestorePlan{ItemID: "i", Steps: []protocol.RestoreStepPlan{{PointID: "20261126T101530Z-full-01a2b3c4d5", Type: "full"}}}

	_, err = env.ExecuteActivity(protocol.ActivityRestoreAsFiles, protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1",
		TargetDatabase: evil, Dir: filepath.Join(root, "x"), Plan: plan})
	requireInvalid(t, err, "control character")
	_, err = env.ExecuteActivity(protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: evil})
	requireInvalid(t, err, "control character")
	_, err = env.ExecuteActivity(protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: evil, Step: plan.Steps[0]})
	requireInvalid(t, err, "control character")
	_, err = env.ExecuteActivity(protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "SQLVM1", TargetDatabase: strings.Repeat("x", 129)})
	requireInvalid(t, err, "at most 128")

	outside := filepath.Join(t.TempDir(), "elsewhere")
	_, err = env.ExecuteActivity(protocol.ActivityRestoreAsFiles, protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1",
		TargetDatabase: "Sales_copy", Dir: outside, Plan: plan})
	requirePathRefused(t, err, "agent.restoreRoots")
	assert.NoDirExists(t, outside, "nothing is created outside the roots")
	_, err = env.ExecuteActivity(protocol.ActivityRestoreAsFiles, protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1",
		TargetDatabase: "Sales_copy", Dir: root + "/../escape", Plan: plan})
	requirePathRefused(t, err, `".."`)
	// A link under a root that leads elsewhere.
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(root, "link")))
	_, err = env.ExecuteActivity(protocol.ActivityRestoreAsFiles, protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1",
		TargetDatabase: "Sales_copy", Dir: filepath.Join(root, "link", "sales"), Plan: plan})
	requirePathRefused(t, err, "resolves to")
	_, err = env.ExecuteActivity(protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy",
		Step: plan.Steps[0], Relocate: true, DataPath: "/etc/cron.d"})
	requirePathRefused(t, err, "dataPath")
	_, err = env.ExecuteActivity(protocol.ActivityRestoreAsFiles, protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1",
		TargetDatabase: "Sales_copy", Dir: filepath.Join(root, "ok"), Plan: plan, Relocate: true, LogPath: `C:\Windows`})
	requirePathRefused(t, err, "logPath")
}

// Every line of restore.sql's header is a comment, whatever the names hold.
func TestRestoreScriptHeaderKeepsNamesInComments(t *testing.T) {
	in := protocol.RestoreAsFilesInput{TargetInstance: "SQLVM1\r\nGO", TargetDatabase: "Sales_copy\nDROP DATABASE Payroll;--",
		Plan: protocol.RestorePlan{Steps: []protocol.RestoreStepPlan{{}}}}
	for _, st := range []sqlserver.TargetState{{}, {Exists: true, State: "ONLINE\nX"}} {
		h := restoreScriptHeader(in, st, []sqlserver.Move{{Logical: "data\nDROP", Physical: "/d/x.mdf\u2028y"}})
		for _, line := range strings.Split(strings.TrimRight(h, "\n"), "\n") {
			if line != "" {
				assert.True(t, strings.HasPrefix(line, "--"), "%q", line)
			}
		}
		assert.NotContains(t, h, "\r")
		assert.NotContains(t, h, "\u2028")
		if st.Exists {
			assert.Contains(t, h, "IT OVERWRITES database [Sales_copy\\u000ADROP DATABASE Payroll;--]")
		}
	}
}

// Issue 16: an instance's agent.instances[].restore decides what restores the agent runs
// into it, whatever scheduled the activity (a workflow of ours, or any worker in the
// namespace sending activities to the agent's queue): none refuses every restore step and
// recovery, new every one that would replace an existing database; overwrite (the
// default, and "") keeps today's behaviour. Refusals are named and never retried.
func TestAgentRestoreModes(t *testing.T) {
	a, inst, env := simAgent(t)
	_, err := inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Payroll"})
	require.NoError(t, err)
	step := protocol.RestoreStepPlan{PointID: "20261126T101530Z-full-01a2b3c4d5", Type: "full"}
	refused := func(err error, contains string) {
		t.Helper()
		require.Error(t, err)
		assert.Equal(t, protocol.ErrRestoreNotAllowed, protocol.ErrorType(err), "%v", err)
		assert.True(t, nonRetryable(err), "%v", err)
		assert.Contains(t, err.Error(), contains)
	}

	a.Instances[0].Restore = protocol.RestoreModeNone
	_, err = env.ExecuteActivity(protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Payroll_copy"})
	refused(err, "accepts no restore into instance SQLVM1 (agent.instances[].restore: none")
	_, err = env.ExecuteActivity(protocol.ActivityRestoreStep, protocol.RestoreStepInput{TargetInstance: "SQLVM1", TargetDatabase: "Payroll_copy",
		ItemID: "i", Step: step})
	refused(err, "restore: none")
	_, err = env.ExecuteActivity(protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "sqlvm1", TargetDatabase: "Payroll"})
	refused(err, "restore: none")

	a.Instances[0].Restore = protocol.RestoreModeNew
	v, err := env.ExecuteActivity(protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Payroll_copy", Overwrite: true})
	require.NoError(t, err, "a new database is fine, overwrite asked or not")
	var prep protocol.PrepareRestoreResult
	require.NoError(t, v.Get(&prep))
	assert.False(t, prep.TargetExists)
	_, err = env.ExecuteActivity(protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Payroll",
		Overwrite: true, SourceIsTarget: true})
	refused(err, "[Payroll] exists on instance SQLVM1, and the agent on VM SQLVM1 does not let restores replace a database there (agent.instances[].restore: new")

	a.Instances[0].Restore = ""
	_, err = env.ExecuteActivity(protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Payroll", Overwrite: true})
	require.NoError(t, err, "the default lets an overwrite through")
	a.Instances[0].Restore = protocol.RestoreModeOverwrite
	_, err = env.ExecuteActivity(protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Payroll"})
	assert.Equal(t, protocol.ErrTargetExists, protocol.ErrorType(err), "and still needs overwrite asked for")
	_, exists := inst.Database("Payroll")
	assert.True(t, exists)
}
