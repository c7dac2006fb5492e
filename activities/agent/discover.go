package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Discover inventories every instance the agent manages: the instance, its databases, and
// for each whether it can be protected and with which backup types. Like Azure Backup's
// inquiry, it needs sysadmin and fails with UserErrorSQLNoSysadminMembership otherwise.
func (a *Agent) Discover(ctx context.Context, in protocol.InquiryInput) (protocol.InquiryResult, error) {
	res := protocol.InquiryResult{VM: a.VM}
	for _, inst := range a.Instances {
		srv, err := inst.Conn.Server(ctx)
		if err != nil {
			return res, sqlError(err, "")
		}
		if !srv.IsSysadmin {
			return res, notSysadmin(srv)
		}
		dbs, err := inst.Conn.Databases(ctx)
		if err != nil {
			return res, sqlError(err, "")
		}
		ags, err := inst.Conn.AvailabilityGroups(ctx)
		if err != nil {
			return res, sqlError(err, "")
		}
		agOf := map[string]*protocol.AGInfo{}
		for _, ag := range ags {
			info := agInfo(ag)
			for _, d := range ag.Databases {
				agOf[strings.ToUpper(d)] = info
			}
		}
		ii := protocol.InstanceInfo{Name: srv.ServerName, ProductVersion: srv.ProductVersion, Edition: srv.Edition,
			Login: srv.Login, Clustered: srv.IsClustered}
		for _, d := range dbs {
			ag := agOf[strings.ToUpper(d.Name)]
			di := protocol.DatabaseInfo{Name: d.Name, ItemID: vault.ItemID(protocol.ItemInstance(srv.ServerName, ag), d.Name), State: d.State,
				RecoveryModel: d.RecoveryModel, ReadOnly: d.ReadOnly, SizeBytes: d.DataBytes + d.LogBytes, Files: d.Files,
				Snapshot: d.IsSnapshot, Mirrored: d.IsMirrored, AG: agOf[strings.ToUpper(d.Name)]}
			di.Reasons = supportProblems(di, srv.IsClustered)
			di.Protectable = len(di.Reasons) == 0
			if di.Protectable {
				di.BackupTypes = allowedTypes(di)
			}
			ii.Databases = append(ii.Databases, di)
		}
		res.Instances = append(res.Instances, ii)
	}
	return res, nil
}

// supportProblems applies the reference's support rules; each refusal is named.
func supportProblems(d protocol.DatabaseInfo, clustered bool) []string {
	var out []string
	if clustered {
		out = append(out, "the instance is a failover cluster instance, which is not supported")
	}
	if d.Snapshot {
		out = append(out, "database snapshots cannot be backed up")
	}
	if d.Mirrored {
		out = append(out, "databases in a database-mirroring session are not supported")
	}
	if d.Files > protocol.MaxFilesPerDatabase {
		out = append(out, fmt.Sprintf("it has %d files; at most ~%d files per database are supported", d.Files, protocol.MaxFilesPerDatabase))
	}
	if d.State != "ONLINE" {
		out = append(out, fmt.Sprintf("it is %s, not ONLINE", d.State))
	}
	return out
}

// allowedTypes: read-only databases get full and copy-only full only; SIMPLE recovery has
// no log backups.
func allowedTypes(d protocol.DatabaseInfo) []protocol.BackupType {
	if d.ReadOnly {
		return []protocol.BackupType{protocol.Full, protocol.CopyOnlyFull}
	}
	types := []protocol.BackupType{protocol.Full, protocol.Differential, protocol.CopyOnlyFull}
	if d.RecoveryModel != "SIMPLE" {
		types = append(types, protocol.Log)
	}
	return types
}
