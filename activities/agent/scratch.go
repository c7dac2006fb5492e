package agent

import (
	"context"

	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// DropScratchDatabase drops the scratch database of a verify-restore that did not get to its
// own drop (a step failed, the workflow was cancelled). It drops only a name verify-restore
// generates for that source database, so it can never be pointed at a real database, and a
// database that is already gone counts as dropped (idempotent). SQL Server drops a database
// in the RESTORING state as well ("DROP DATABASE ... can be dropped regardless of its state:
// offline, read-only, suspect, and so on", learn.microsoft.com/sql/t-sql/statements/drop-database-transact-sql).
func (a *Agent) DropScratchDatabase(ctx context.Context, in protocol.DropScratchInput) error {
	if !protocol.IsVerifyScratchNameOf(in.Database, in.Scratch) {
		return protocol.UserError(protocol.ErrNotScratchDatabase,
			"%q is not a scratch database of a verify-restore of %q: sqlvault drops only the scratch copies it creates", in.Scratch, in.Database)
	}
	conn, err := a.instance(in.TargetInstance)
	if err != nil {
		return err
	}
	if err := conn.DropDatabase(ctx, in.Scratch); err != nil {
		return sqlError(err, in.Scratch)
	}
	a.logger().Info("dropped a verify-restore's scratch database", zap.String("database", in.Scratch))
	return nil
}
