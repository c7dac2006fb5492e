package protocol

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reference's table: which node takes each backup type, per backup preference.
func TestReplicaForFollowsTheReferenceTable(t *testing.T) {
	replicas := []AGReplica{{Server: "N1", Role: "PRIMARY", BackupPriority: 50}, {Server: "N2", Role: "SECONDARY", BackupPriority: 60},
		{Server: "N3", Role: "SECONDARY", BackupPriority: 40}}
	want := map[string]map[BackupType]string{
		"primary":        {Full: "N1", Differential: "N1", Log: "N1", CopyOnlyFull: "N1"},
		"secondary_only": {Full: "N1", Differential: "N1", Log: "N2", CopyOnlyFull: "N2"},
		"secondary":      {Full: "N1", Differential: "N1", Log: "N2", CopyOnlyFull: "N2"},
		"none":           {Full: "N1", Differential: "N1", Log: "N2", CopyOnlyFull: "N2"},
	}
	for pref, byType := range want {
		for typ, node := range byType {
			got, err := ReplicaFor(AGInfo{Name: "AG1", Preference: pref, Replicas: replicas}, typ)
			require.NoError(t, err)
			assert.Equal(t, node, got, "%s %s", pref, typ)
		}
	}
	// No eligible secondary: SECONDARY falls back to the primary, SECONDARY_ONLY refuses.
	only := []AGReplica{{Server: "N1", Role: "PRIMARY", BackupPriority: 50}, {Server: "N2", Role: "SECONDARY", BackupPriority: 0}}
	got, err := ReplicaFor(AGInfo{Name: "AG1", Preference: "secondary", Replicas: only}, Log)
	require.NoError(t, err)
	assert.Equal(t, "N1", got)
	_, err = ReplicaFor(AGInfo{Name: "AG1", Preference: "secondary_only", Replicas: only}, Log)
	assert.ErrorContains(t, err, "secondary replicas only")
	assert.Equal(t, "AG:AG1", ItemInstance("N1", &AGInfo{Name: "AG1"}))
	assert.Equal(t, "N1", ItemInstance("N1", nil))
}

// secondaryView is what N3, a secondary, sees: every replica's name and priority from the
// group's metadata, but only its own role (sys.dm_hadr_availability_replica_states holds only
// the local row on a secondary).
func secondaryView(pref string, preferred bool) AGInfo {
	return AGInfo{Name: "AG1", Preference: pref, Local: "N3", LocalPreferred: preferred, Replicas: []AGReplica{
		{Server: "N1", BackupPriority: 50}, {Server: "N2", BackupPriority: 60}, {Server: "N3", Role: "SECONDARY", BackupPriority: 40}}}
}

// A backup routed by preference and asked of a secondary: the secondary cannot see the
// primary, so ReplicaFor alone fails ("no primary replica online"); RouteFromView decides
// what the view allows and otherwise says to ask the other replicas, primary-first by
// metadata order.
func TestRouteFromASecondarysView(t *testing.T) {
	_, err := ReplicaFor(secondaryView("secondary", false), Log)
	require.ErrorContains(t, err, "no primary replica online", "the secondary's view has no primary")

	// SQL Server names this secondary the preferred backup replica: logs and copy-only
	// fulls run here without asking anyone.
	for _, typ := range []BackupType{Log, CopyOnlyFull} {
		target, decided, err := RouteFromView(secondaryView("secondary", true), typ)
		require.NoError(t, err)
		assert.True(t, decided)
		assert.Equal(t, "N3", target, "%s", typ)
	}
	// Full and differential need the primary, and PRIMARY sends everything there: the
	// secondary cannot tell which replica that is.
	for _, c := range []struct {
		pref string
		typ  BackupType
	}{{"secondary", Full}, {"secondary", Differential}, {"primary", Log}, {"secondary", Log}, {"none", CopyOnlyFull}} {
		target, decided, err := RouteFromView(secondaryView(c.pref, c.pref != "primary" && c.typ == Full), c.typ)
		require.NoError(t, err)
		assert.False(t, decided, "%s %s", c.pref, c.typ)
		assert.Empty(t, target)
	}
	assert.Equal(t, []string{"N2", "N1"}, AskOrder(secondaryView("secondary", false)))
	assert.False(t, IsPrimaryView(secondaryView("secondary", false)))

	// The primary's view shows every role and decides by the reference's table.
	primary := AGInfo{Name: "AG1", Preference: "secondary", Local: "N1", Replicas: []AGReplica{
		{Server: "N1", Role: "PRIMARY", BackupPriority: 50}, {Server: "N2", Role: "SECONDARY", BackupPriority: 60},
		{Server: "N3", Role: "SECONDARY", BackupPriority: 40}}}
	assert.True(t, IsPrimaryView(primary))
	for typ, want := range map[BackupType]string{Full: "N1", Differential: "N1", Log: "N2", CopyOnlyFull: "N2"} {
		target, decided, err := RouteFromView(primary, typ)
		require.NoError(t, err)
		assert.True(t, decided)
		assert.Equal(t, want, target, "%s", typ)
	}
}
