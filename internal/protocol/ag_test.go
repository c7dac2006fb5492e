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
