package sqlsim_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// agEnv is three instances of one simulator (one per VM) in one availability group.
type agEnv struct {
	*env
	nodes []*sqlsim.Instance
	dbs   []*sql.DB
	ag    *sqlsim.AvailabilityGroup
}

func newAGEnv(t *testing.T, pref sqlsim.BackupPreference) *agEnv {
	e := newEnv(t)
	a := &agEnv{env: e, nodes: []*sqlsim.Instance{e.in}, dbs: []*sql.DB{e.db}}
	for _, m := range []string{"SQLVM2", "SQLVM3"} {
		in, err := e.sim.StartInstance(sqlsim.InstanceConfig{Machine: m})
		require.NoError(t, err)
		db, err := sql.Open("sqlserver", in.DSN("sa", saPass, ""))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		_, err = db.Exec("CREATE CREDENTIAL [" + e.base + "] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '" + sasToken + "'")
		require.NoError(t, err)
		a.nodes = append(a.nodes, in)
		a.dbs = append(a.dbs, db)
	}
	src := e.createDB(sqlsim.DatabaseSpec{Name: "AgDb", DataPages: 256})
	e.write(src, time.Second, 10)
	ag, err := e.sim.CreateAvailabilityGroup(sqlsim.AGConfig{Name: "AG1", Preference: pref, Databases: []string{"AgDb"},
		Replicas: []sqlsim.ReplicaConfig{{Instance: a.nodes[0], BackupPriority: 50}, {Instance: a.nodes[1], BackupPriority: 60}, {Instance: a.nodes[2], BackupPriority: 40}}})
	require.NoError(t, err)
	a.ag = ag
	return a
}

func (a *agEnv) preferred() []bool {
	out := make([]bool, len(a.dbs))
	for i, db := range a.dbs {
		require.NoError(a.t, db.QueryRow("SELECT sys.fn_hadr_backup_is_preferred_replica(N'AgDb')").Scan(&out[i]))
	}
	return out
}

func TestAvailabilityGroupPreferredReplica(t *testing.T) {
	for _, c := range []struct {
		pref sqlsim.BackupPreference
		want []bool // node 0 primary (priority 50), node 1 (60), node 2 (40)
	}{
		{sqlsim.PreferPrimary, []bool{true, false, false}},
		{sqlsim.PreferSecondaryOnly, []bool{false, true, false}},
		{sqlsim.PreferSecondary, []bool{false, true, false}},
		{sqlsim.PreferNone, []bool{false, true, false}},
	} {
		t.Run(string(c.pref), func(t *testing.T) {
			a := newAGEnv(t, c.pref)
			assert.Equal(t, c.want, a.preferred())
			// After a failover to node 1, the preferred replica moves accordingly.
			_, err := a.dbs[1].Exec("ALTER AVAILABILITY GROUP [AG1] FAILOVER")
			require.NoError(t, err)
			after := map[sqlsim.BackupPreference][]bool{
				sqlsim.PreferPrimary:       {false, true, false},
				sqlsim.PreferSecondaryOnly: {true, false, false},
				sqlsim.PreferSecondary:     {true, false, false},
				sqlsim.PreferNone:          {false, true, false},
			}[c.pref]
			assert.Equal(t, after, a.preferred())
		})
	}
	// A database outside any AG is always preferred (1).
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "Solo", DataPages: 16})
	var p bool
	require.NoError(t, e.db.QueryRow("SELECT sys.fn_hadr_backup_is_preferred_replica('Solo')").Scan(&p))
	assert.True(t, p)
}

func TestAvailabilityGroupCatalogAndSecondaryLimits(t *testing.T) {
	a := newAGEnv(t, sqlsim.PreferSecondary)
	// Asked of the primary, every replica's state is visible.
	rows := queryRowsDB(t, a.dbs[0], `SELECT ag.name, ag.automated_backup_preference_desc, ar.replica_server_name, ar.backup_priority, rs.role_desc, rs.is_local
		FROM sys.availability_groups ag
		JOIN sys.availability_replicas ar ON ar.group_id = ag.group_id
		JOIN sys.dm_hadr_availability_replica_states rs ON rs.replica_id = ar.replica_id
		ORDER BY ar.replica_server_name`)
	require.Len(t, rows, 3)
	assert.Equal(t, "secondary", rows[0]["automated_backup_preference_desc"])
	assert.Equal(t, "SQLVM1", rows[0]["replica_server_name"])
	assert.Equal(t, "PRIMARY", rows[0]["role_desc"])
	assert.EqualValues(t, 60, rows[1]["backup_priority"])
	assert.Equal(t, true, rows[0]["is_local"])
	assert.Equal(t, false, rows[2]["is_local"])
	dbRows := queryRowsDB(t, a.dbs[1], "SELECT name, replica_id, group_database_id FROM sys.databases WHERE name = 'AgDb'")
	require.Len(t, dbRows, 1)
	assert.NotNil(t, dbRows[0]["group_database_id"])

	// On a secondary: copy-only full and log backups only.
	sec := a.dbs[1]
	for _, q := range []string{
		"BACKUP DATABASE AgDb TO URL = @p1",
		"BACKUP DATABASE AgDb TO URL = @p1 WITH DIFFERENTIAL",
	} {
		_, err := sec.Exec(q, a.url("x.bak"))
		requireSQLError(t, err, 3059)
	}
	_, err := sec.Exec("BACKUP LOG AgDb TO URL = @p1", a.url("sec_log0.trn"))
	requireSQLError(t, err, 4214) // no full yet anywhere in the group
	_, err = a.db.Exec("BACKUP DATABASE AgDb TO URL = @p1", a.url("prim_full.bak"))
	require.NoError(t, err)
	_, err = sec.Exec("BACKUP DATABASE AgDb TO URL = @p1 WITH COPY_ONLY", a.url("sec_copy.bak"))
	require.NoError(t, err)
	a.write(a.env.dbByName("AgDb"), time.Second, 5)
	_, err = sec.Exec("BACKUP LOG AgDb TO URL = @p1", a.url("sec_log1.trn"))
	require.NoError(t, err)
	// Writes go to the primary only.
	secDB, ok := a.nodes[1].Database("AgDb")
	require.True(t, ok)
	_, err = secDB.Write(1)
	require.Error(t, err)

	// The log chain is the group's: after a failover, the new primary's log continues it.
	require.NoError(t, a.ag.Failover(a.nodes[1]))
	_, err = secDB.Write(3)
	require.NoError(t, err)
	_, err = a.dbs[1].Exec("BACKUP LOG AgDb TO URL = @p1", a.url("new_prim_log2.trn"))
	require.NoError(t, err)
	l1 := queryRowsDB(t, a.dbs[1], "SELECT first_lsn, last_lsn FROM msdb.dbo.backupset WHERE type = 'L' ORDER BY backup_set_id")
	require.Len(t, l1, 2)
	assert.Equal(t, l1[0]["last_lsn"], l1[1]["first_lsn"])
	// RESTORE is not allowed on an AG database.
	_, err = a.dbs[1].Exec("RESTORE DATABASE AgDb FROM URL = @p1 WITH REPLACE", a.url("prim_full.bak"))
	requireSQLError(t, err, 3104)

	// Preference and priority changes through T-SQL on the primary.
	_, err = a.dbs[1].Exec("ALTER AVAILABILITY GROUP AG1 SET (AUTOMATED_BACKUP_PREFERENCE = PRIMARY)")
	require.NoError(t, err)
	_, err = a.dbs[1].Exec("ALTER AVAILABILITY GROUP AG1 MODIFY REPLICA ON N'SQLVM3' WITH (BACKUP_PRIORITY = 0)")
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true, false}, a.preferred())
}

// TestAvailabilityGroupSecondarySeesOnlyLocalState: Microsoft documents that
// sys.dm_hadr_availability_replica_states and sys.dm_hadr_database_replica_states return only
// local rows on a secondary and every replica's on the primary, while the group's metadata
// (sys.availability_replicas) and sys.fn_hadr_backup_is_preferred_replica answer everywhere.
// A product that looks for the primary's role from a secondary finds nothing.
func TestAvailabilityGroupSecondarySeesOnlyLocalState(t *testing.T) {
	a := newAGEnv(t, sqlsim.PreferSecondary)
	const view = `SELECT ar.replica_server_name, ar.backup_priority, ISNULL(rs.role_desc, N'') AS role_desc,
		CASE WHEN rs.is_local = 1 THEN 1 ELSE 0 END AS is_local
		FROM sys.availability_groups ag
		JOIN sys.availability_replicas ar ON ar.group_id = ag.group_id
		LEFT JOIN sys.dm_hadr_availability_replica_states rs ON rs.replica_id = ar.replica_id
		ORDER BY ar.replica_server_name`
	roles := func(db *sql.DB) []string {
		rows := queryRowsDB(t, db, view)
		require.Len(t, rows, 3, "the group's metadata lists every replica on every replica")
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = r["role_desc"].(string)
		}
		return out
	}
	assert.Equal(t, []string{"PRIMARY", "SECONDARY", "SECONDARY"}, roles(a.dbs[0]))
	assert.Equal(t, []string{"", "SECONDARY", ""}, roles(a.dbs[1]), "a secondary sees only its own state")
	assert.Equal(t, []string{"", "", "SECONDARY"}, roles(a.dbs[2]))

	count := func(db *sql.DB, q string) int {
		var n int
		require.NoError(t, db.QueryRow(q).Scan(&n))
		return n
	}
	const states = "SELECT COUNT(*) FROM sys.dm_hadr_availability_replica_states"
	const dbStates = "SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states"
	assert.Equal(t, 3, count(a.dbs[0], states))
	assert.Equal(t, 1, count(a.dbs[1], states))
	assert.Equal(t, 3, count(a.dbs[0], dbStates), "the primary: its database and each secondary's")
	assert.Equal(t, 1, count(a.dbs[2], dbStates), "a secondary: its own database only")
	assert.Equal(t, 1, count(a.dbs[2], "SELECT COUNT(*) FROM sys.dm_hadr_database_replica_states WHERE is_local = 1 AND database_id IS NOT NULL"))
	// The preferred-replica function needs no view of the others. Outside a group it is
	// always 1; for a database that does not exist, 0 (SQL Server 2022 CU2 and later).
	assert.Equal(t, []bool{false, true, false}, a.preferred())
	a.createDB(sqlsim.DatabaseSpec{Name: "Solo", DataPages: 16})
	var solo, missing bool
	require.NoError(t, a.dbs[0].QueryRow("SELECT sys.fn_hadr_backup_is_preferred_replica(N'Solo'), sys.fn_hadr_backup_is_preferred_replica(N'NoSuchDb')").Scan(&solo, &missing))
	assert.True(t, solo)
	assert.False(t, missing)

	// After a failover the new primary sees everything and the old one only itself.
	require.NoError(t, a.ag.Failover(a.nodes[1]))
	assert.Equal(t, []string{"SECONDARY", "PRIMARY", "SECONDARY"}, roles(a.dbs[1]))
	assert.Equal(t, []string{"SECONDARY", "", ""}, roles(a.dbs[0]))
}
