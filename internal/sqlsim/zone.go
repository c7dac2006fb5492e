package sqlsim

import (
	"time"
	// The simulator's instances take IANA zones (Europe/Berlin, America/New_York) so tests
	// can put a DST change under a backup; embedding the database keeps that working on a
	// machine without /usr/share/zoneinfo or a GOROOT.
	_ "time/tzdata"

	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
)

// SQL Server's clock is the operating system's local time: GETDATE() "is derived from the
// operating system of the computer on which the instance of SQL Server is running" and has
// no offset; SYSUTCDATETIME()/GETUTCDATE() are UTC (Microsoft, GETDATE (Transact-SQL),
// https://learn.microsoft.com/en-us/previous-versions/SQL/SQL-server-2008/ms188383(v=sql.100)).
// msdb's dates and RESTORE's STOPAT are datetime values on that same local clock. The
// simulator keeps every time as an instant inside and shows it in the instance's zone
// (InstanceConfig.Location) wherever SQL Server shows a datetime.

// zone is the instance's time zone (UTC when none was configured).
func (in *Instance) zone() *time.Location {
	if in.cfg.Location == nil {
		return time.UTC
	}
	return in.cfg.Location
}

// localNow is GETDATE()/SYSDATETIME(): the instance's clock in its zone.
func (in *Instance) localNow() time.Time { return in.sim.Now().In(in.zone()) }

// local shows instant t on this instance's clock.
func (in *Instance) local(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(in.zone())
}

// zoneName is what a backup header records of the server's zone ("" for UTC).
func (in *Instance) zoneName() string {
	if in.cfg.Location == nil || in.cfg.Location == time.UTC {
		return ""
	}
	return in.cfg.Location.String()
}

// headerZone is the zone of the server that wrote backup h: its dates and its log records'
// times are that server's local time, wherever the backup is restored.
func headerZone(h media.Header) *time.Location {
	if h.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// tzIntervals is msdb.dbo.backupset.time_zone: the difference between local time and UTC
// in 15-minute intervals at instant t in loc.
func tzIntervals(t time.Time, loc *time.Location) int16 {
	_, off := t.In(loc).Zone()
	return int16(off / (15 * 60))
}

// wallClock reads t's wall-clock fields as if they were UTC: datetime has no zone, so SQL
// Server compares datetimes by their wall-clock reading only.
func wallOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// stopPoint is a RESTORE … STOPAT time: a wall-clock reading (datetime has no zone) that
// SQL Server compares with the times in the backup, which are the local times of the server
// that wrote it.
type stopPoint struct{ wall time.Time }

// before reports whether the stop point lies before instant t as the writing server's clock
// (zone loc) showed it.
func (p stopPoint) before(t time.Time, loc *time.Location) bool {
	return p.wall.Before(wallOf(t.In(loc)))
}

// wallIn is the stop point as msdb.dbo.restorehistory.stop_at shows it (the same wall-clock
// reading, a datetime on the restoring server's clock); zero for no stop point.
func (p *stopPoint) wallIn(loc *time.Location) time.Time {
	if p == nil {
		return time.Time{}
	}
	w := p.wall
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
}
