package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/domain"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// chainState is the chain the vault holds for item: as the control side computed it and
// the workflow passed it (in.Chain), or, for a workflow started before it did so or when
// the state names another item than the one SQL Server's view gives, as read from the
// vault here (the rules are the same: domain.ChainStateOf).
func (a *Agent) chainState(ctx context.Context, in protocol.PrepareBackupInput, item string) (domain.ChainState, time.Duration, error) {
	if in.Chain != nil && in.Chain.ItemID == item {
		s, maxAge := in.Chain.Domain()
		return s, maxAge, nil
	}
	// Summaries (one listing) carry every field used here; reading each manifest would
	// cost a Get per recovery point.
	if a.Vault == nil {
		// No grant allows a listing: the chain state must come from the control side.
		return domain.ChainState{}, 0, protocol.RetryableError(protocol.ErrVaultUnavailable, nil,
			"this agent holds no vault credential (agent.vaultAccess: grant), so the chain state of %s must come from the control side (sqlvault.control.BackupChainState), which did not answer; the backup will retry", item)
	}
	sums, err := a.Vault.ListPointSummaries(ctx, item)
	if err != nil {
		return domain.ChainState{}, 0, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list recovery points: %v", err)
	}
	// Authenticated summaries only, as the control side builds it: a point planted or
	// changed without the key must not decide what this backup continues.
	var points []domain.Point
	for i := range sums {
		if sums[i].Auth == vault.AuthOK {
			points = append(points, sums[i].Point())
		}
	}
	return domain.ChainStateOf(points), a.fullMaxAge(ctx, item), nil
}

// fullMaxAge is how old the newest full may be under the item's policy (0: no policy), read
// from the vault: only for a workflow that did not pass the chain state. The agent links
// nothing of the control side's policy package: it reads the policy's wire form and takes
// only the full frequency, which is all domain.FullMaxAge needs (an unknown frequency: no
// bound, as a policy that does not validate has none).
func (a *Agent) fullMaxAge(ctx context.Context, itemID string) time.Duration {
	it, err := a.Vault.Item(ctx, itemID)
	if err != nil {
		return 0
	}
	doc, err := a.Vault.Policy(ctx, it.Policy)
	if err != nil {
		return 0
	}
	var p protocol.Policy
	if json.Unmarshal(doc, &p) != nil {
		return 0
	}
	switch p.Full.Frequency {
	case protocol.FrequencyWeekly, protocol.FrequencyDaily:
		return domain.FullMaxAge(p.Full.Frequency == protocol.FrequencyWeekly)
	}
	return 0
}

// chainBreak says why a log or differential backup of db cannot continue the chain the
// vault holds (s, with the policy's bound on the newest full's age), or "" when it can. It
// compares SQL Server's view (the database's GUID, the log chain's next LSN, msdb's newest
// full) with the vault's.
func chainBreak(ctx context.Context, conn *sqlserver.Conn, db sqlserver.Database, s domain.ChainState, maxAge time.Duration, t protocol.BackupType) (string, error) {
	if !s.HasFull() {
		return "no full backup of this database is in the vault yet", nil
	}
	// LSNs start over in another incarnation of the database (created again, or restored
	// as new), so they say nothing about whether it continues the vault's chain.
	if !s.SameDatabase(db.GUID) {
		return fmt.Sprintf("the database is another incarnation than the one the vault's chain is of (its GUID is %s, the newest full's %s is %s: it was created again or restored as new)",
			db.GUID, s.NewestFullID, s.DatabaseGUID), nil
	}
	// A full older than the policy allows (two full intervals: one missed full is tolerated).
	if maxAge > 0 {
		now, err := conn.Now(ctx)
		if err != nil {
			return "", sqlError(err, db.Name)
		}
		if age := now.Sub(s.NewestFullStart); age > maxAge {
			return fmt.Sprintf("the newest full (%s) is %s old, older than the policy allows (%s)", s.NewestFullID,
				age.Round(time.Minute), maxAge), nil
		}
	}
	switch t {
	case protocol.Log:
		if db.LastLogBackupLSN == "" {
			return "SQL Server has no log chain for it (its recovery model was switched to SIMPLE and back, or it was restored)", nil
		}
		if !s.LogContinues(domain.LSN(db.LastLogBackupLSN)) { // the next log backup's FirstLSN
			if foreign, err := conn.BackupSetByLastLSN(ctx, db.Name, db.LastLogBackupLSN); err == nil && foreign != nil && !s.Ours(foreign.BackupSetGUID) {
				return fmt.Sprintf("a log backup taken by another tool (to %s) took log records the vault does not have", foreign.Devices[0]), nil
			}
			return fmt.Sprintf("the log chain moved outside sqlvault (SQL Server's next log backup starts at %s, which no recovery point in the vault reaches)",
				db.LastLogBackupLSN), nil
		}
	case protocol.Differential:
		full, err := conn.LatestBackupSet(ctx, db.Name, "D", false)
		if err != nil {
			return "", sqlError(err, db.Name)
		}
		if full != nil && !s.Ours(full.BackupSetGUID) {
			return fmt.Sprintf("a full backup taken by another tool (to %s) moved the differential base", full.Devices[0]), nil
		}
		if why := differentialBaseBreak(db, s); why != "" {
			return why, nil
		}
	}
	return "", nil
}

// differentialBaseBreak says why a differential of db taken now could not be restored from
// the vault, or "": its differential base (sys.master_files.differential_base_lsn) must be
// the checkpoint of a scheduled full the vault holds, the only base the restore planner
// pairs a differential with. msdb's newest full says nothing after a restore: a database
// restored from a copy-only full, or from a full the vault does not hold, keeps msdb's
// history but has that backup's checkpoint as its base.
func differentialBaseBreak(db sqlserver.Database, s domain.ChainState) string {
	if ok, known := s.DifferentialBaseInVault(domain.LSN(db.DifferentialBaseLSN)); known && !ok {
		return fmt.Sprintf("its differential base (checkpoint LSN %s) is no full backup in the vault: it was restored from a copy-only full or from a backup the vault does not hold, so a differential of it could never be restored",
			db.DifferentialBaseLSN)
	}
	return ""
}
