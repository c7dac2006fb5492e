package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// fullMaxAge is how old the newest full may be under the item's policy (0: no policy).
func (a *Agent) fullMaxAge(ctx context.Context, itemID string) time.Duration {
	it, err := a.Vault.Item(ctx, itemID)
	if err != nil {
		return 0
	}
	doc, err := a.Vault.Policy(ctx, it.Policy)
	if err != nil {
		return 0
	}
	var p policy.Policy
	if json.Unmarshal(doc, &p) != nil || p.Validate() != nil {
		return 0
	}
	if p.Full.Frequency == policy.FrequencyWeekly {
		return 2 * 7 * 24 * time.Hour
	}
	return 2 * 24 * time.Hour
}

// chainBreak says why a log or differential backup of db cannot continue the chain the
// vault holds, or "" when it can. It compares SQL Server's view (the log chain's next LSN,
// msdb's newest full) with the recovery points in the vault.
func (a *Agent) chainBreak(ctx context.Context, conn *sqlserver.Conn, db sqlserver.Database, itemID string, t protocol.BackupType) (string, error) {
	// Summaries (one listing) carry every field used here; this runs before every log
	// backup, and reading each manifest would cost a Get per recovery point.
	points, err := a.Vault.ListPointSummaries(ctx, itemID)
	if err != nil {
		return "", protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list recovery points: %v", err)
	}
	var lastLog, lastFull *vault.PointSummary
	ours := map[string]bool{}
	// baseEnd is the highest LastLSN of a full or differential in the vault: a log whose
	// FirstLSN is at or below it continues a chain from that base.
	var baseEnd vault.LSN
	for i := range points {
		m := &points[i]
		ours[m.BackupSetGUID] = true
		if m.Type != vault.BackupLog && (baseEnd == "" || m.LastLSN.Compare(baseEnd) > 0) {
			baseEnd = m.LastLSN
		}
		switch {
		case m.Type == vault.BackupLog && (lastLog == nil || m.LastLSN.Compare(lastLog.LastLSN) > 0):
			lastLog = m
		case m.Type == vault.BackupFull && !m.CopyOnly && (lastFull == nil || m.StartTime.After(lastFull.StartTime)):
			lastFull = m
		}
	}
	if lastFull == nil {
		return "no full backup of this database is in the vault yet", nil
	}
	// A full older than the policy allows (two full intervals: one missed full is tolerated).
	if maxAge := a.fullMaxAge(ctx, itemID); maxAge > 0 {
		now, err := conn.Now(ctx)
		if err != nil {
			return "", sqlError(err, db.Name)
		}
		if age := now.Sub(lastFull.StartTime); age > maxAge {
			return fmt.Sprintf("the newest full (%s) is %s old, older than the policy allows (%s)", lastFull.PointID,
				age.Round(time.Minute), maxAge), nil
		}
	}
	switch t {
	case protocol.Log:
		if db.LastLogBackupLSN == "" {
			return "SQL Server has no log chain for it (its recovery model was switched to SIMPLE and back, or it was restored)", nil
		}
		next := vault.LSN(db.LastLogBackupLSN) // the next log backup's FirstLSN
		continues := (lastLog != nil && lastLog.LastLSN == next) || (baseEnd != "" && next.Compare(baseEnd) <= 0)
		if !continues {
			if foreign, err := conn.BackupSetByLastLSN(ctx, db.Name, db.LastLogBackupLSN); err == nil && foreign != nil && !ours[foreign.BackupSetGUID] {
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
		if full != nil && !ours[full.BackupSetGUID] {
			return fmt.Sprintf("a full backup taken by another tool (to %s) moved the differential base", full.Devices[0]), nil
		}
	}
	return "", nil
}
