package domain

import "time"

// SQL Server's datetime values carry no zone: msdb dates and STOPAT are readings of the
// clock of the machine SQL Server runs on (Microsoft, GETDATE (Transact-SQL)). The product
// keeps instants (UTC) and the server's offset (local − UTC, in minutes) per backup; these
// convert between the two, for the agent (reading msdb) and the control side (writing a
// plan's STOPAT) alike.

// WallClock is t's wall-clock reading as a UTC time (a datetime read from SQL Server has
// the UTC location; this only makes that explicit).
func WallClock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// FromServerLocal converts a reading of the server's clock (offset minutes ahead of UTC)
// to an instant.
func FromServerLocal(local time.Time, offset int) time.Time {
	return WallClock(local).Add(-time.Duration(offset) * time.Minute)
}

// ToServerLocal is the server's clock reading at instant t when its offset is offset
// minutes: what STOPAT and msdb's dates compare with. The result's wall-clock fields are
// the local time; its location is UTC only because datetime has none.
func ToServerLocal(t time.Time, offset int) time.Time {
	return t.UTC().Add(time.Duration(offset) * time.Minute)
}
