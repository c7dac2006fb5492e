package sqlserver

import (
	"context"
	"database/sql"
)

// SQL Server's datetime values carry no zone. GETDATE()/SYSDATETIME() are the local time of
// the machine SQL Server runs on, and msdb writes its backup and restore dates on that clock
// (Microsoft, GETDATE (Transact-SQL): "derived from the operating system of the computer on
// which the instance of SQL Server is running"; SYSUTCDATETIME/GETUTCDATE are UTC). Many
// Windows VMs are not on UTC, and their offset changes with daylight saving time. Every
// time the product keeps is an instant (UTC); the conversions are internal/domain's
// (FromServerLocal, ToServerLocal).
//
// msdb.dbo.backupset.time_zone records, per backup, the "difference between local time
// (where the backup operation is taking place) and Coordinated Universal Time (UTC) in
// 15-minute intervals", -48 to +48, 127 when unknown (Microsoft, backupset (Transact-SQL),
// https://learn.microsoft.com/en-us/sql/relational-databases/system-tables/backupset-transact-sql).
// That it is local minus UTC (positive east of Greenwich) is read from that wording.

// unknownTimeZone is backupset.time_zone's "unknown".
const unknownTimeZone = 127

// offsetFromTimeZone converts backupset.time_zone to minutes (local − UTC).
func offsetFromTimeZone(tz sql.NullInt32) (int, bool) {
	if !tz.Valid || tz.Int32 == unknownTimeZone || tz.Int32 < -64 || tz.Int32 > 64 {
		return 0, false
	}
	return int(tz.Int32) * 15, true
}

// UTCOffset is the server's current offset from UTC in minutes (local − UTC), to the
// nearest 15 minutes (the two clocks are read a moment apart).
func (c *Conn) UTCOffset(ctx context.Context) (int, error) {
	var seconds int
	if err := c.db.QueryRowContext(ctx, "SELECT DATEDIFF(SECOND, SYSUTCDATETIME(), SYSDATETIME())").Scan(&seconds); err != nil {
		return 0, Classify(err)
	}
	return roundToQuarterHour(seconds), nil
}

func roundToQuarterHour(seconds int) int {
	const q = 15 * 60
	if seconds >= 0 {
		return (seconds + q/2) / q * 15
	}
	return -((-seconds + q/2) / q * 15)
}
