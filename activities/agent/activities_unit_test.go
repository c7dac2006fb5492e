package agent

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// unitSim is an agent for one simulated instance, configured as the test needs (a
// clustered instance, a login that is not sysadmin), with its activities in Temporal's
// activity test environment; sql runs T-SQL on the instance as sa.
type unitSim struct {
	agent *Agent
	inst  *sqlsim.Instance
	env   *testsuite.TestActivityEnvironment
	sa    *sqlserver.Conn
}

func newUnitSim(t *testing.T, cfg sqlsim.InstanceConfig, login, password string) *unitSim {
	t.Helper()
	sim := sqlsim.New(sqlsim.Config{})
	t.Cleanup(func() { _ = sim.Close() })
	if cfg.Machine == "" {
		cfg.Machine = "SQLVM1"
	}
	inst, err := sim.StartInstance(cfg)
	require.NoError(t, err)
	sa, err := sqlserver.Open(inst.DSN("sa", "Sim-Passw0rd", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sa.Close() })
	conn := sa
	if login != "sa" {
		conn, err = sqlserver.Open(inst.DSN(login, password, ""))
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
	}
	a := &Agent{VM: cfg.Machine, Instances: []Instance{{Name: inst.ServerName(), Conn: conn}}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a.Register(env)
	return &unitSim{agent: a, inst: inst, env: env, sa: sa}
}

func (u *unitSim) create(t *testing.T, specs ...sqlsim.DatabaseSpec) {
	t.Helper()
	for _, s := range specs {
		_, err := u.inst.CreateDatabase(s)
		require.NoError(t, err, s.Name)
	}
}

func (u *unitSim) sql(t *testing.T, q string) {
	t.Helper()
	_, err := u.sa.DB().ExecContext(context.Background(), q)
	require.NoError(t, err, q)
}

func (u *unitSim) run(t *testing.T, out any, name string, args ...any) error {
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

func findDB(t *testing.T, res protocol.InquiryResult, name string) protocol.DatabaseInfo {
	t.Helper()
	for _, inst := range res.Instances {
		for _, d := range inst.Databases {
			if d.Name == name {
				return d
			}
		}
	}
	t.Fatalf("%s not in the inventory", name)
	return protocol.DatabaseInfo{}
}

// Discover lists the instance and its databases with what each allows: all types in FULL
// recovery, no log in SIMPLE, fulls only when read-only, nothing (with the reason) for a
// mirrored or offline database.
func TestDiscoverUnitAppliesTheSupportRules(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"}, sqlsim.DatabaseSpec{Name: "Staging", Recovery: "SIMPLE"},
		sqlsim.DatabaseSpec{Name: "Archive", ReadOnly: true}, sqlsim.DatabaseSpec{Name: "Mirror", Mirrored: true},
		sqlsim.DatabaseSpec{Name: "Old"})
	u.sql(t, "ALTER DATABASE [Old] SET OFFLINE")

	var res protocol.InquiryResult
	require.NoError(t, u.run(t, &res, protocol.ActivityDiscover, protocol.InquiryInput{VM: "SQLVM1"}))
	assert.Equal(t, "SQLVM1", res.VM)
	require.Len(t, res.Instances, 1)
	assert.Equal(t, "SQLVM1", res.Instances[0].Name)
	assert.False(t, res.Instances[0].Clustered)

	sales := findDB(t, res, "Sales")
	assert.True(t, sales.Protectable)
	assert.Equal(t, vault.ItemID("SQLVM1", "Sales"), sales.ItemID)
	assert.Equal(t, []protocol.BackupType{protocol.Full, protocol.Differential, protocol.CopyOnlyFull, protocol.Log}, sales.BackupTypes)

	staging := findDB(t, res, "Staging")
	assert.True(t, staging.Protectable)
	assert.NotContains(t, staging.BackupTypes, protocol.Log, "SIMPLE recovery keeps no log to back up")

	archive := findDB(t, res, "Archive")
	assert.True(t, archive.Protectable)
	assert.Equal(t, []protocol.BackupType{protocol.Full, protocol.CopyOnlyFull}, archive.BackupTypes)

	mirror := findDB(t, res, "Mirror")
	assert.False(t, mirror.Protectable)
	assert.Empty(t, mirror.BackupTypes)
	assert.Contains(t, mirror.Reasons, "databases in a database-mirroring session are not supported")

	old := findDB(t, res, "Old")
	assert.False(t, old.Protectable)
	assert.Contains(t, old.Reasons, "it is OFFLINE, not ONLINE")
}

// On a failover cluster instance nothing is protectable, each database saying why.
func TestDiscoverUnitRefusesAClusteredInstance(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{Clustered: true}, "sa", "")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"})
	var res protocol.InquiryResult
	require.NoError(t, u.run(t, &res, protocol.ActivityDiscover, protocol.InquiryInput{VM: "SQLVM1"}))
	assert.True(t, res.Instances[0].Clustered)
	sales := findDB(t, res, "Sales")
	assert.False(t, sales.Protectable)
	assert.Contains(t, sales.Reasons, "the instance is a failover cluster instance, which is not supported")
}

// Discovery, backup and restore need sysadmin: a login without it gets the named error
// with the statement that grants it.
func TestAgentUnitNeedsSysadmin(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{Logins: []sqlsim.Login{{Name: "sqlvault", Password: "Agent-Passw0rd"}}}, "sqlvault", "Agent-Passw0rd")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"})
	for name, arg := range map[string]any{
		protocol.ActivityDiscover:       protocol.InquiryInput{VM: "SQLVM1"},
		protocol.ActivityPrepareBackup:  protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Full},
		protocol.ActivityPrepareRestore: protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy"},
	} {
		err := u.run(t, nil, name, arg)
		require.Error(t, err, name)
		assert.Equal(t, protocol.ErrNotSysadmin, protocol.ErrorType(err), name)
		assert.Contains(t, err.Error(), "ALTER SERVER ROLE [sysadmin] ADD MEMBER [sqlvault]", name)
	}
}

// PrepareBackup answers with what the stream needs: SQL Server's spelling of the names, the
// item, the recovery model and the stripes (as asked, or chosen from the size).
func TestPrepareBackupUnitDescribesTheBackup(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales", SizeBytes: 20 << 30})
	var res protocol.PrepareBackupResult
	require.NoError(t, u.run(t, &res, protocol.ActivityPrepareBackup, protocol.PrepareBackupInput{Instance: "sqlvm1", Database: "SALES", Type: protocol.Full}))
	assert.Equal(t, "Sales", res.Database)
	assert.Equal(t, "SQLVM1", res.ServerName)
	assert.Equal(t, vault.ItemID("SQLVM1", "Sales"), res.ItemID)
	assert.Equal(t, "FULL", res.RecoveryModel)
	assert.Equal(t, protocol.Full, res.Type)
	assert.Equal(t, StripesFor(res.DataBytes), res.Stripes)
	assert.Greater(t, res.Stripes, 1, "20 GiB gets more than one stripe")
	assert.Empty(t, res.Reason)

	require.NoError(t, u.run(t, &res, protocol.ActivityPrepareBackup, protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Full, Stripes: 7}))
	assert.Equal(t, 7, res.Stripes, "the stripes asked for")
}

// Every refusal PrepareBackup makes has its named, non-retryable error.
func TestPrepareBackupUnitNamedErrors(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"}, sqlsim.DatabaseSpec{Name: "Staging", Recovery: "SIMPLE"},
		sqlsim.DatabaseSpec{Name: "Archive", ReadOnly: true}, sqlsim.DatabaseSpec{Name: "Mirror", Mirrored: true},
		sqlsim.DatabaseSpec{Name: "Old"})
	u.sql(t, "ALTER DATABASE [Old] SET OFFLINE")
	for _, c := range []struct {
		in       protocol.PrepareBackupInput
		kind     string
		contains string
	}{
		{protocol.PrepareBackupInput{Instance: `SQLVM1\OTHER`, Database: "Sales", Type: protocol.Full}, protocol.ErrInstanceNotManaged, "add it to agent.instances"},
		{protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Nope", Type: protocol.Full}, protocol.ErrDatabaseNotFound, `database "Nope" does not exist`},
		{protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Staging", Type: protocol.Log}, protocol.ErrLogBackupSimple, "SET RECOVERY FULL"},
		{protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Sales", Type: protocol.Log}, protocol.ErrNoLogChain, "take a full backup first"},
		{protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Archive", Type: protocol.Differential}, protocol.ErrReadOnlyDifferential, "read-only"},
		{protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Mirror", Type: protocol.Full}, protocol.ErrMirroredDatabase, "mirroring"},
		{protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Old", Type: protocol.Full}, protocol.ErrDatabaseNotOnline, "is OFFLINE"},
		{protocol.PrepareBackupInput{Instance: "SQLVM1", Database: "Sales\nDROP", Type: protocol.Full}, protocol.ErrInvalidInput, "control character"},
	} {
		err := u.run(t, nil, protocol.ActivityPrepareBackup, c.in)
		require.Error(t, err, c.in.Database)
		assert.Equal(t, c.kind, protocol.ErrorType(err), "%s: %v", c.in.Database, err)
		assert.Contains(t, err.Error(), c.contains, c.in.Database)
	}
	// What the rules allow passes.
	for _, ok := range []protocol.PrepareBackupInput{
		{Instance: "SQLVM1", Database: "Staging", Type: protocol.Differential},
		{Instance: "SQLVM1", Database: "Archive", Type: protocol.CopyOnlyFull},
	} {
		assert.NoError(t, u.run(t, nil, protocol.ActivityPrepareBackup, ok), ok.Database)
	}
}

// PrepareRestore: a new name is free; an existing one needs overwrite; overwriting the
// protected database in FULL recovery needs a tail-log (not with skipTailLog, not in SIMPLE).
func TestPrepareRestoreUnit(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"}, sqlsim.DatabaseSpec{Name: "Staging", Recovery: "SIMPLE"})
	var res protocol.PrepareRestoreResult
	require.NoError(t, u.run(t, &res, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales_copy"}))
	assert.Equal(t, protocol.PrepareRestoreResult{}, res)

	err := u.run(t, nil, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales"})
	assert.Equal(t, protocol.ErrTargetExists, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "--overwrite")

	require.NoError(t, u.run(t, &res, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales",
		Overwrite: true, SourceIsTarget: true}))
	assert.Equal(t, protocol.PrepareRestoreResult{TargetExists: true, TargetState: "ONLINE", NeedsTailLog: true}, res)

	res = protocol.PrepareRestoreResult{}
	require.NoError(t, u.run(t, &res, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales",
		Overwrite: true, SourceIsTarget: true, SkipTailLog: true}))
	assert.False(t, res.NeedsTailLog)
	require.NoError(t, u.run(t, &res, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales",
		Overwrite: true}))
	assert.False(t, res.NeedsTailLog, "another database's restore over Sales takes no tail-log of Sales")
	require.NoError(t, u.run(t, &res, protocol.ActivityPrepareRestore, protocol.PrepareRestoreInput{TargetInstance: "SQLVM1", TargetDatabase: "Staging",
		Overwrite: true, SourceIsTarget: true}))
	assert.False(t, res.NeedsTailLog, "SIMPLE recovery has no log to back up")
}

// RecoverDatabase reports the state; an online database stays as it is.
func TestRecoverDatabaseUnit(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"})
	var state string
	require.NoError(t, u.run(t, &state, protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "SQLVM1", TargetDatabase: "Sales"}))
	assert.Equal(t, "ONLINE", state)

	err := u.run(t, nil, protocol.ActivityRecoverDatabase, protocol.RecoverInput{TargetInstance: "SQLVM9", TargetDatabase: "Sales"})
	assert.Equal(t, protocol.ErrInstanceNotManaged, protocol.ErrorType(err))
}

// DropScratchDatabase drops the run's scratch copy, and again succeeds (it is gone); the
// source database is never dropped.
func TestDropScratchDatabaseUnitDropsTheScratchCopy(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "")
	scratch := protocol.VerifyScratchName("Sales", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"}, sqlsim.DatabaseSpec{Name: scratch})
	in := protocol.DropScratchInput{TargetInstance: "SQLVM1", Database: "Sales", Scratch: scratch}
	require.NoError(t, u.run(t, nil, protocol.ActivityDropScratchDatabase, in))
	_, exists := u.inst.Database(scratch)
	assert.False(t, exists, "dropped")
	require.NoError(t, u.run(t, nil, protocol.ActivityDropScratchDatabase, in), "already gone counts as dropped")

	err := u.run(t, nil, protocol.ActivityDropScratchDatabase, protocol.DropScratchInput{TargetInstance: "SQLVM1", Database: "Sales", Scratch: "Sales"})
	assert.Equal(t, protocol.ErrNotScratchDatabase, protocol.ErrorType(err))
	_, exists = u.inst.Database("Sales")
	assert.True(t, exists, "the source is never dropped")

	err = u.run(t, nil, protocol.ActivityDropScratchDatabase, protocol.DropScratchInput{TargetInstance: "OTHER", Database: "Sales", Scratch: scratch})
	assert.Equal(t, protocol.ErrInstanceNotManaged, protocol.ErrorType(err))
}

// AvailabilityGroupView: a database outside any group has none.
func TestAvailabilityGroupViewUnitOutsideAGroup(t *testing.T) {
	u := newUnitSim(t, sqlsim.InstanceConfig{}, "sa", "")
	u.create(t, sqlsim.DatabaseSpec{Name: "Sales"})
	var res protocol.AGViewResult
	require.NoError(t, u.run(t, &res, protocol.ActivityAGView, protocol.AGViewInput{Instance: "SQLVM1", Database: "Sales"}))
	assert.Nil(t, res.AG)
	err := u.run(t, nil, protocol.ActivityAGView, protocol.AGViewInput{Instance: "SQLVM1", Database: "Nope"})
	assert.Equal(t, protocol.ErrDatabaseNotFound, protocol.ErrorType(err))
}
