package e2e

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// TestAvailabilityGroupNodeChoice: in an availability group of three simulator instances,
// each with its own agent, every backup type runs on the node the reference's table names
// for each backup preference, keeps doing so after a failover, and all of it forms one
// chain in the vault.
func TestAvailabilityGroupNodeChoice(t *testing.T) {
	t.Parallel()
	onEachPath(t, testAvailabilityGroupNodeChoice)
}

func testAvailabilityGroupNodeChoice(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	nodes := []*sqlsim.Instance{}
	dbs := []*sql.DB{}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("N%d-%s", i, s.container)
		in, err := s.sim.StartInstance(sqlsim.InstanceConfig{Machine: name, Logins: []sqlsim.Login{{Name: sqlLogin, Password: sqlPassword, Sysadmin: true}}})
		require.NoError(t, err)
		s.startAgentFor(in, name, name)
		db, err := sql.Open("sqlserver", in.DSN(sqlLogin, sqlPassword, ""))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		nodes, dbs = append(nodes, in), append(dbs, db)
	}
	src, err := nodes[0].CreateDatabase(sqlsim.DatabaseSpec{Name: "AgDb", DataPages: 64})
	require.NoError(t, err)
	ag, err := s.sim.CreateAvailabilityGroup(sqlsim.AGConfig{Name: "AG1", Preference: sqlsim.PreferPrimary, Databases: []string{"AgDb"},
		Replicas: []sqlsim.ReplicaConfig{{Instance: nodes[0], BackupPriority: 50}, {Instance: nodes[1], BackupPriority: 60}, {Instance: nodes[2], BackupPriority: 40}}})
	require.NoError(t, err)
	primaryDB := func() *sqlsim.Database {
		d, ok := ag.Primary().Database("AgDb")
		require.True(t, ok)
		return d
	}
	count := func() []int {
		out := make([]int, len(dbs))
		for i, db := range dbs {
			require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM msdb.dbo.backupset WHERE database_name = 'AgDb'").Scan(&out[i]))
		}
		return out
	}
	// backupOn asks any replica (the third) and returns the node that took it.
	backupOn := func(typ protocol.BackupType) int {
		s.clock.Advance(time.Minute)
		_, err := primaryDB().Write(3)
		require.NoError(t, err)
		before := count()
		rp := s.mustBackup(protocol.BackupInput{Instance: nodes[2].ServerName(), Database: "AgDb", Type: typ, VM: nodes[2].ServerName()})
		after := count()
		for i := range after {
			if after[i] == before[i]+1 {
				assert.Equal(t, nodes[i].ServerName(), rp.Instance, "the manifest names the replica that took it")
				return i
			}
		}
		t.Fatalf("no node recorded the %s backup", typ)
		return -1
	}
	// Node 0 primary; node 1 has the highest priority among the secondaries.
	table := map[sqlsim.BackupPreference]map[protocol.BackupType]int{
		sqlsim.PreferPrimary:       {protocol.Full: 0, protocol.Differential: 0, protocol.Log: 0, protocol.CopyOnlyFull: 0},
		sqlsim.PreferSecondaryOnly: {protocol.Full: 0, protocol.Differential: 0, protocol.Log: 1, protocol.CopyOnlyFull: 1},
		sqlsim.PreferSecondary:     {protocol.Full: 0, protocol.Differential: 0, protocol.Log: 1, protocol.CopyOnlyFull: 1},
		sqlsim.PreferNone:          {protocol.Full: 0, protocol.Differential: 0, protocol.Log: 1, protocol.CopyOnlyFull: 1},
	}
	for _, pref := range []sqlsim.BackupPreference{sqlsim.PreferPrimary, sqlsim.PreferSecondaryOnly, sqlsim.PreferSecondary, sqlsim.PreferNone} {
		ag.SetPreference(pref)
		for _, typ := range []protocol.BackupType{protocol.Full, protocol.Differential, protocol.Log, protocol.CopyOnlyFull} {
			assert.Equal(t, table[pref][typ], backupOn(typ), "%s %s", pref, typ)
		}
	}
	// After a failover to node 1, fulls follow the new primary and logs the new best secondary.
	require.NoError(t, ag.Failover(nodes[1]))
	ag.SetPreference(sqlsim.PreferSecondary)
	assert.Equal(t, 1, backupOn(protocol.Full))
	assert.Equal(t, 0, backupOn(protocol.Log), "node 0 is now the highest-priority secondary")
	ag.SetPreference(sqlsim.PreferPrimary)
	assert.Equal(t, 1, backupOn(protocol.Log))
	// A routed backup's history, for the replay tests.
	ag.SetPreference(sqlsim.PreferSecondary)
	run := s.start(protocol.BackupInput{Instance: nodes[1].ServerName(), Database: "AgDb", Type: protocol.Log, VM: nodes[1].ServerName()})
	require.NoError(t, run.Get(t.Context(), nil))
	s.record("backup-ag-routed", s.history(run.GetID(), run.GetRunID()))
	// A full asked of a secondary, which cannot see the primary: the workflow asks the
	// replicas' agents until the primary answers, and the full runs there.
	s.clock.Advance(time.Minute)
	run = s.start(protocol.BackupInput{Instance: nodes[2].ServerName(), Database: "AgDb", Type: protocol.Full, VM: nodes[2].ServerName()})
	var routed protocol.BackupResult
	require.NoError(t, run.Get(t.Context(), &routed))
	assert.Equal(t, nodes[1].ServerName(), routed.RecoveryPoint.Instance, "the full ran on the primary")
	s.record("backup-ag-asked-of-secondary", s.history(run.GetID(), run.GetRunID()))

	// One item for the group, one unbroken chain: the last log restores exactly elsewhere.
	ms, err := s.repo.ListPoints(t.Context(), vault.ItemID("AG:AG1", "AgDb"))
	require.NoError(t, err)
	require.Len(t, ms, 21)
	// Each node's backups went through its agent's data path.
	for i, db := range dbs {
		var onNode []*vault.Manifest
		for _, m := range ms {
			if m.Server.Instance == nodes[i].ServerName() {
				onNode = append(onNode, m)
			}
		}
		if len(onNode) > 0 {
			s.requireOnPath(onNode, db, "AgDb")
		}
	}
	last := ms[len(ms)-1]
	_, err = s.restore(protocol.RestoreInput{Instance: "AG:AG1", Database: "AgDb", PointID: last.PointID,
		TargetInstance: nodes[2].ServerName(), TargetVM: nodes[2].ServerName(), TargetDatabase: "AgDb_copy"})
	require.NoError(t, err)
	cp, ok := nodes[2].Database("AgDb_copy")
	require.True(t, ok)
	want, err := src.DigestAtLSN(string(last.Backup.LastLSN))
	require.NoError(t, err)
	assert.Equal(t, want, cp.Digest())

	// Restoring over the group's database is refused before anything changes.
	before := primaryDB().Digest()
	_, err = s.restore(protocol.RestoreInput{Instance: "AG:AG1", Database: "AgDb", PointID: last.PointID, Overwrite: true,
		TargetInstance: ag.Primary().ServerName(), TargetVM: ag.Primary().ServerName(), TargetDatabase: "AgDb"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrTargetInAG, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "restore under another name")
	assert.Equal(t, before, primaryDB().Digest())
}
