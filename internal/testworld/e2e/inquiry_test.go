package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

func (s *stack) inquiry() (protocol.InquiryResult, error) {
	run, err := s.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: "sqlvault-inquiry-" + s.container, TaskQueue: s.controlQueue(), WorkflowExecutionTimeout: time.Minute,
	}, protocol.WorkflowInquiry, protocol.InquiryInput{VM: s.agentVM()})
	require.NoError(s.t, err)
	var res protocol.InquiryResult
	err = run.Get(context.Background(), &res)
	if err == nil {
		record(s.t, "inquiry", s.history(run.GetID(), run.GetRunID()))
	}
	return res, err
}

// TestInquiryDiscoversAndAppliesTheSupportRules: every database with what protection needs,
// each unsupported one refused by name, and a login without sysadmin refused with the
// reference's named error and how to grant it.
func TestInquiryDiscoversAndAppliesTheSupportRules(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	for _, spec := range []sqlsim.DatabaseSpec{
		{Name: "Sales", DataPages: 2048},
		{Name: "Simple", DataPages: 64, Recovery: "SIMPLE"},
		{Name: "Archive", DataPages: 64, ReadOnly: true},
		{Name: "Mirrored", DataPages: 64, Mirrored: true},
		{Name: "ManyFiles", DataPages: 2002, DataFiles: 1001},
		{Name: "AgDb", DataPages: 64},
	} {
		_, err := s.inst.CreateDatabase(spec)
		require.NoError(t, err)
	}
	_, err := s.sqlDB.Exec("CREATE DATABASE [Sales_snap] ON (NAME = [Sales], FILENAME = '/s.ss') AS SNAPSHOT OF [Sales]")
	require.NoError(t, err)
	second, err := s.sim.StartInstance(sqlsim.InstanceConfig{Machine: "SQLVM2"})
	require.NoError(t, err)
	_, err = s.sim.CreateAvailabilityGroup(sqlsim.AGConfig{Name: "AG1", Preference: sqlsim.PreferSecondary, Databases: []string{"AgDb"},
		Replicas: []sqlsim.ReplicaConfig{{Instance: s.inst, BackupPriority: 50}, {Instance: second, BackupPriority: 70}}})
	require.NoError(t, err)

	res, err := s.inquiry()
	require.NoError(t, err)
	require.Len(t, res.Instances, 1)
	inst := res.Instances[0]
	assert.Equal(t, vm, inst.Name)
	assert.Equal(t, sqlLogin, inst.Login)
	dbs := map[string]protocol.DatabaseInfo{}
	for _, d := range inst.Databases {
		dbs[d.Name] = d
	}
	require.Len(t, dbs, 7)
	assert.True(t, dbs["Sales"].Protectable)
	assert.ElementsMatch(t, []protocol.BackupType{protocol.Full, protocol.Differential, protocol.CopyOnlyFull, protocol.Log}, dbs["Sales"].BackupTypes)
	assert.Equal(t, int64(2048*8192), dbs["Sales"].SizeBytes-8192*1024, "data plus the 8 MiB log")
	assert.NotContains(t, dbs["Simple"].BackupTypes, protocol.Log)
	assert.ElementsMatch(t, []protocol.BackupType{protocol.Full, protocol.CopyOnlyFull}, dbs["Archive"].BackupTypes)
	for name, reason := range map[string]string{"Mirrored": "mirroring", "ManyFiles": "1002 files", "Sales_snap": "snapshot"} {
		assert.False(t, dbs[name].Protectable, name)
		require.NotEmpty(t, dbs[name].Reasons, name)
		assert.Contains(t, dbs[name].Reasons[0], reason)
	}
	ag := dbs["AgDb"].AG
	require.NotNil(t, ag)
	assert.Equal(t, "AG1", ag.Name)
	assert.Equal(t, "secondary", ag.Preference)
	require.Len(t, ag.Replicas, 2)
	assert.Equal(t, "PRIMARY", ag.Replicas[0].Role)
	assert.Equal(t, 70, ag.Replicas[1].BackupPriority)

	require.NoError(t, s.inst.SetSysadmin(sqlLogin, false))
	_, err = s.inquiry()
	require.Error(t, err)
	assert.Equal(t, protocol.ErrNotSysadmin, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "ALTER SERVER ROLE [sysadmin] ADD MEMBER [sqlvault]")
}

func TestStarterDiscover(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Orders", DataPages: 128})
	require.NoError(t, err)
	out, errOut, err := s.starter("discover", "--vm", s.agentVM())
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "Orders")
	assert.Contains(t, out, "full, differential, copy-only-full, log")
}
