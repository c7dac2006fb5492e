package workflows

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Availability-group routing: which replica takes a backup. The Backup workflow decides
// it (from views the agents report), so the rules live here, beside it, not in the wire
// types.

// replicaFor picks the replica that takes a backup type from a view that shows the primary
// (the primary's own view; see routeFromView for any replica's), following the reference's table:
// full and differential always on the primary; log and copy-only full on the primary when
// the preference is PRIMARY, otherwise on the preferred secondary (highest backup priority
// above 0, then name), falling back to the primary unless the preference is SECONDARY_ONLY.
func replicaFor(ag protocol.AGInfo, t protocol.BackupType) (string, error) {
	var primary string
	var secondaries []protocol.AGReplica
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
	if t == protocol.Full || t == protocol.Differential || strings.EqualFold(ag.Preference, "primary") {
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
func needsPrimary(ag protocol.AGInfo, t protocol.BackupType) bool {
	return t == protocol.Full || t == protocol.Differential || strings.EqualFold(ag.Preference, "primary")
}

// seesPrimary reports whether the view shows which replica is primary. Only the primary's
// view does: on a secondary sys.dm_hadr_availability_replica_states returns only the local
// row (Microsoft's documentation of the view), so the other replicas' roles are unknown.
func seesPrimary(ag protocol.AGInfo) bool {
	for _, r := range ag.Replicas {
		if strings.EqualFold(r.Role, "PRIMARY") {
			return true
		}
	}
	return false
}

// routeFromView decides which replica takes a backup of type t from what the replica that
// answered (ag.Local) can see. decided is false when it cannot tell — a secondary knows
// neither which replica is primary nor the others' state — and the caller then asks the
// replicas of askOrder for their own view until it finds the primary, whose view decides.
// A secondary that SQL Server itself names the preferred backup replica
// (sys.fn_hadr_backup_is_preferred_replica) takes log and copy-only backups without asking.
func routeFromView(ag protocol.AGInfo, t protocol.BackupType) (target string, decided bool, err error) {
	if seesPrimary(ag) {
		target, err = replicaFor(ag, t)
		return target, true, err
	}
	if !needsPrimary(ag, t) && ag.LocalPreferred && ag.Local != "" {
		return ag.Local, true, nil
	}
	return "", false, nil
}

// askOrder is the order in which to ask the other replicas for their view when looking for
// the primary: from the group's metadata (every replica sees it), highest backup priority
// first, then by name, the answering replica last (it was asked already).
func askOrder(ag protocol.AGInfo) []string {
	rs := append([]protocol.AGReplica(nil), ag.Replicas...)
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

// isPrimaryView reports whether ag is the primary's view of its group: the answering replica
// sees itself as PRIMARY.
func isPrimaryView(ag protocol.AGInfo) bool {
	for _, r := range ag.Replicas {
		if strings.EqualFold(r.Server, ag.Local) {
			return strings.EqualFold(r.Role, "PRIMARY")
		}
	}
	return false
}
