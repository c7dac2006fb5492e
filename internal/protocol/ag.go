package protocol

import (
	"fmt"
	"sort"
	"strings"
)

// ItemInstance is the instance name an item is keyed by: the availability group for a
// database in one ("AG:<group>"), so its recovery points form one chain whichever replica
// took them; else the instance itself.
func ItemInstance(instance string, ag *AGInfo) string {
	if ag != nil {
		return "AG:" + ag.Name
	}
	return instance
}

// ReplicaFor picks the replica that takes a backup type, following the reference's table:
// full and differential always on the primary; log and copy-only full on the primary when
// the preference is PRIMARY, otherwise on the preferred secondary (highest backup priority
// above 0, then name), falling back to the primary unless the preference is SECONDARY_ONLY.
func ReplicaFor(ag AGInfo, t BackupType) (string, error) {
	var primary string
	var secondaries []AGReplica
	for _, r := range ag.Replicas {
		switch strings.ToUpper(r.Role) {
		case "PRIMARY":
			primary = r.Server
		default:
			if r.BackupPriority > 0 {
				secondaries = append(secondaries, r)
			}
		}
	}
	if primary == "" {
		return "", fmt.Errorf("availability group %s has no primary replica online", ag.Name)
	}
	if t == Full || t == Differential || strings.EqualFold(ag.Preference, "primary") {
		return primary, nil
	}
	sort.Slice(secondaries, func(i, j int) bool {
		if secondaries[i].BackupPriority != secondaries[j].BackupPriority {
			return secondaries[i].BackupPriority > secondaries[j].BackupPriority
		}
		return secondaries[i].Server < secondaries[j].Server
	})
	if len(secondaries) > 0 {
		return secondaries[0].Server, nil
	}
	if strings.EqualFold(ag.Preference, "secondary_only") {
		return "", fmt.Errorf("availability group %s prefers secondary replicas only, and none can take backups (all have backup priority 0 or are offline)", ag.Name)
	}
	return primary, nil
}
