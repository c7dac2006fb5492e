package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// The reference's table: which node takes each backup type, per backup preference.
func TestReplicaForFollowsTheReferenceTable(t *testing.T) {
	replicas := []protocol.AGReplica{{Server: "N1", Role: "PRIMARY", BackupPriority: 50}, {Server: "N2", Role: "SECONDARY", BackupPriority: 60},
		{Server: "N3", Role: "SECONDARY", BackupPriority: 40}}
	want := map[string]map[protocol.BackupType]string{
		"primary":        {protocol.Full: "N1", protocol.Differential: "N1", protocol.Log: "N1", protocol.CopyOnlyFull: "N1"},
		"secondary_only": {protocol.Full: "N1", protocol.Differential: "N1", protocol.Log: "N2", protocol.CopyOnlyFull: "N2"},
		"secondary":      {protocol.Full: "N1", protocol.Differential: "N1", protocol.Log: "N2", protocol.CopyOnlyFull: "N2"},
		"none":           {protocol.Full: "N1", protocol.Differential: "N1", protocol.Log: "N2", protocol.CopyOnlyFull: "N2"},
	}
	for pref, byType := range want {
		for typ, node := range byType {
			got, err := replicaFor(protocol.AGInfo{Name: "AG1", Preference: pref, Replicas: replicas}, typ)
			require.NoError(t, err)
			assert.Equal(t, node, got, "%s %s", pref, typ)
		}
	}
	// No eligible secondary: SECONDARY falls back to the primary, SECONDARY_ONLY refuses.
	only := []protocol.AGReplica{{Server: "N1", Role: "PRIMARY", BackupPriority: 50}, {Server: "N2", Role: "SECONDARY", BackupPriority: 0}}
	got, err := replicaFor(protocol.AGInfo{Name: "AG1", Preference: "secondary", Replicas: only}, protocol.Log)
	require.NoError(t, err)
	assert.Equal(t, "N1", got)
	_, err = replicaFor(protocol.AGInfo{Name: "AG1", Preference: "secondary_only", Replicas: only}, protocol.Log)
	assert.ErrorContains(t, err, "secondary replicas only")
	assert.Equal(t, "AG:AG1", protocol.ItemInstance("N1", &protocol.AGInfo{Name: "AG1"}))
	assert.Equal(t, "N1", protocol.ItemInstance("N1", nil))
}

// secondaryView is what N3, a secondary, sees: every replica's name and priority from the
// group's metadata, but only its own role (sys.dm_hadr_availability_replica_states holds only
// the local row on a secondary).
func secondaryView(pref string, preferred bool) protocol.AGInfo {
	return protocol.AGInfo{Name: "AG1", Preference: pref, Local: "N3", LocalPreferred: preferred, Replicas: []protocol.AGReplica{
		{Server: "N1", BackupPriority: 50}, {Server: "N2", BackupPriority: 60}, {Server: "N3", Role: "SECONDARY", BackupPriority: 40}}}
}

// A backup routed by preference and asked of a secondary: the secondary cannot see the
// primary, so replicaFor alone fails ("no primary replica online"); routeFromView decides
// what the view allows and otherwise says to ask the other replicas, primary-first by
// metadata order.
func TestRouteFromASecondarysView(t *testing.T) {
	_, err := replicaFor(secondaryView("secondary", false), protocol.Log)
	require.ErrorContains(t, err, "no primary replica online", "the secondary's view has no primary")

	// SQL Server names this secondary the preferred backup replica: logs and copy-only
	// fulls run here without asking anyone.
	for _, typ := range []protocol.BackupType{protocol.Log, protocol.CopyOnlyFull} {
		target, decided, err := routeFromView(secondaryView("secondary", true), typ)
		require.NoError(t, err)
		assert.True(t, decided)
		assert.Equal(t, "N3", target, "%s", typ)
	}
	// protocol.Full and differential need the primary, and PRIMARY sends everything there: the
	// secondary cannot tell which replica that is.
	for _, c := range []struct {
		pref string
		typ  protocol.BackupType
	}{{"secondary", protocol.Full}, {"secondary", protocol.Differential}, {"primary", protocol.Log}, {"secondary", protocol.Log}, {"none", protocol.CopyOnlyFull}} {
		target, decided, err := routeFromView(secondaryView(c.pref, c.pref != "primary" && c.typ == protocol.Full), c.typ)
		require.NoError(t, err)
		assert.False(t, decided, "%s %s", c.pref, c.typ)
		assert.Empty(t, target)
	}
	assert.Equal(t, []string{"N2", "N1"}, askOrder(secondaryView("secondary", false)))
	assert.False(t, isPrimaryView(secondaryView("secondary", false)))

	// The primary's view shows every role and decides by the reference's table.
	primary := protocol.AGInfo{Name: "AG1", Preference: "secondary", Local: "N1", Replicas: []protocol.AGReplica{
		{Server: "N1", Role: "PRIMARY", BackupPriority: 50}, {Server: "N2", Role: "SECONDARY", BackupPriority: 60},
		{Server: "N3", Role: "SECONDARY", BackupPriority: 40}}}
	assert.True(t, isPrimaryView(primary))
	for typ, want := range map[protocol.BackupType]string{protocol.Full: "N1", protocol.Differential: "N1", protocol.Log: "N2", protocol.CopyOnlyFull: "N2"} {
		target, decided, err := routeFromView(primary, typ)
		require.NoError(t, err)
		assert.True(t, decided)
		assert.Equal(t, want, target, "%s", typ)
	}
}
