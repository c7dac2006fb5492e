package sqlserver

import (
	"context"
	"database/sql"
	"errors"
)

// RunOnSession is Run on one connection of the pool whose session ID (@@SPID) it first
// passes to onSession, so that another connection can watch the statement in
// sys.dm_exec_requests (RequestPercent) while it runs.
func (c *Conn) RunOnSession(ctx context.Context, query string, args []any, onSession func(spid int16), onMessage func(Message)) error {
	sc, err := c.db.Conn(ctx)
	if err != nil {
		return Classify(err)
	}
	defer sc.Close()
	var spid int16
	if err := sc.QueryRowContext(ctx, "SELECT @@SPID").Scan(&spid); err != nil {
		return Classify(err)
	}
	if onSession != nil {
		onSession(spid)
	}
	return run(ctx, sc, query, args, onMessage)
}

// RequestPercent is sys.dm_exec_requests.percent_complete of the request session spid is
// running, which SQL Server fills in for BACKUP and RESTORE among others
// (learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-exec-requests-transact-sql).
// ok is false when the session runs no request.
func (c *Conn) RequestPercent(ctx context.Context, spid int16) (percent float64, ok bool, err error) {
	err = c.db.QueryRowContext(ctx, "SELECT percent_complete FROM sys.dm_exec_requests WHERE session_id = @p1", spid).Scan(&percent)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, Classify(err)
	}
	return percent, true, nil
}
