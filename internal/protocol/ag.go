package protocol

import (
	"fmt"
	"sort"
	"strings"
)

// ActivityAGView asks a replica's agent how its instance sees a database's availability
// group (input AGViewInput, result AGViewResult).
const ActivityAGView = "sqlvault.agent.AvailabilityGroupView"

// AGViewInput names the replica (an instance the agent manages) and the database.
type AGViewInput struct {
	Instance string `json:"instance"`
	Database string `json:"database"`
}

// AGViewResult is the group as that replica sees it (nil: the database is in no group).
type AGViewResult struct {
	AG *AGInfo `json:"availabilityGroup,omitempty"`
}

// ItemInstance is the instance name an item is keyed by: the availability group for a
// database in one ("AG:<group>"), so its recovery points form one chain whichever replica
// took them; else the instance itself.
func ItemInstance(instance string, ag *AGInfo) string {
	if ag != nil {
		return "AG:" + ag.Name
	}
	return instance
}

// ReplicaFor picks the replica that takes a backup type from a view that shows the primary
// (the primary's own view; see RouteFromView for any replica's), following the reference's table:
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

// needsPrimary reports whether SQL Server's backup preference is irrelevant to t: full and
// differential run only on the primary, and PRIMARY sends everything there.
func needsPrimary(ag AGInfo, t BackupType) bool {
	return t == Full || t == Differential || strings.EqualFold(ag.Preference, "primary")
}

// seesPrimary reports whether the view shows which replica is primary. Only the primary's
// view does: on a secondary sys.dm_hadr_availability_replica_states returns only the local
// row (Microsoft's documentation of the view), so the other replicas' roles are unknown.
func seesPrimary(ag AGInfo) bool {
	for _, r := range ag.Replicas {
		if strings.EqualFold(r.Role, "PRIMARY") {
			return true
		}
	}
	return false
}

// RouteFromView decides which replica takes a backup of type t from what the replica that
// answered (ag.Local) can see. decided is false when it cannot tell — a secondary knows
// neither which replica is primary nor the others' state — and the caller then asks the
// replicas of AskOrder for their own view until it finds the primary, whose view decides.
// A secondary that SQL Server itself names the preferred backup replica
// (sys.fn_hadr_backup_is_preferred_replica) takes log and copy-only backups without asking.
func RouteFromView(ag AGInfo, t BackupType) (target string, decided bool, err error) {
	if seesPrimary(ag) {
		target, err = ReplicaFor(ag, t)
		return target, true, err
	}
	if !needsPrimary(ag, t) && ag.LocalPreferred && ag.Local != "" {
		return ag.Local, true, nil
	}
	return "", false, nil
}

// AskOrder is the order in which to ask the other replicas for their view when looking for
// the primary: from the group's metadata (every replica sees it), highest backup priority
// first, then by name, the answering replica last (it was asked already).
func AskOrder(ag AGInfo) []string {
	rs := append([]AGReplica(nil), ag.Replicas...)
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].BackupPriority != rs[j].BackupPriority {
			return rs[i].BackupPriority > rs[j].BackupPriority
		}
		return rs[i].Server < rs[j].Server
	})
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		if !strings.EqualFold(r.Server, ag.Local) {
			out = append(out, r.Server)
		}
	}
	return out
}

// IsPrimaryView reports whether ag is the primary's view of its group: the answering replica
// sees itself as PRIMARY.
func IsPrimaryView(ag AGInfo) bool {
	for _, r := range ag.Replicas {
		if strings.EqualFold(r.Server, ag.Local) {
			return strings.EqualFold(r.Role, "PRIMARY")
		}
	}
	return false
}
