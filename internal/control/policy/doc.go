// Package policy holds backup policies, as in Azure Backup's SQL Server policies: when to
// take fulls, differentials and logs (one Temporal Schedule per protected item and kind),
// and how long to keep what they produce (retention).
//
// The policy document itself is a wire type (protocol.Policy, which Policy is defined on);
// this package holds its rules. Everything here is pure and deterministic, so the same
// policy is judged alike on every worker and in every run: it imports no Temporal client
// (activities/control turns Schedules into Temporal schedule specs), does no I/O of its
// own, never reads the clock ("now" is a parameter), and never lets map iteration or input
// order decide a result. Time zones come from the time package; the package embeds the tz
// database (time/tzdata) so that a worker without one (a Windows VM, a scratch container)
// still knows every zone.
//
// # Schedules
//
// Schedules says when each kind runs. Fulls and differentials are calendar specs at
// TimeOfDay in the policy's time zone (FullSchedule.TimeZone, shared by the differential);
// logs are an interval of EveryMinutes counted from the Unix epoch, so a 60-minute log runs
// on the hour whatever the zone. Next computes the same instants without Temporal,
// following Temporal's scheduler where daylight saving time makes a wall-clock time skipped
// (no run that day) or repeated (a run in each copy). Validate refuses times of day that
// the zone skips or repeats, so a valid policy never loses or doubles a backup to a clock
// change.
//
// # Retention
//
// Retain decides, for one protected item's recovery points at an instant now, which to keep.
// Each point first gets its own verdict:
//
//   - A full taken by the schedule (not copy-only, no on-demand retention) is kept if any
//     rule keeps it. daily: its Start is less than Daily.Days days before now. weekly: with a
//     daily full, the first full of each week is a weekly point, a week running from 00:00
//     on Weekly.Weekday in the policy's zone (so it is the full taken on that weekday, or the
//     next one that week if that one failed); with a weekly full every scheduled full is a
//     weekly point. monthly: the first full of each month (or, with Week and Weekday, the
//     first full on or after that day of the month, e.g. the first Sunday). yearly: the
//     monthly point of Yearly.Month. Calendar rules count periods back from now: the current
//     week, month or year is the first of the N kept, so "4 weeks" keeps 4 weekly points.
//     Only scheduled fulls are weekly, monthly or yearly points, so an ad-hoc or copy-only
//     full taken early in a period never takes the place the schedule promises.
//
//   - A differential is kept DifferentialDays days after its Start, a log LogDays days.
//
//   - A point with RetainUntil (an on-demand backup of any type) is kept until that
//     instant (exclusive) and no rule applies to it: its retention was chosen when it was
//     taken.
//
//   - A copy-only full without RetainUntil is kept by the policy's base rule, as long
//     as a scheduled full would be at least: daily (Daily.Days) for a daily full, weekly
//     (Weekly.Weeks, by week) for a weekly one.
//
//   - A point Retain cannot date or classify (no start time, unknown type) is kept: deleting
//     what it does not understand is not retention's call.
//
//   - An invalid policy keeps everything, with the validation error as the reason.
//
//   - For an item that takes differentials, the newest non-copy-only full of each database is
//     kept, and an older one until the full after it has been finished for
//     BackupMaxDuration: a differential still streaming (not yet in the listing) is based
//     on it.
//
// Days are calendar days in the policy's zone (a day across a clock change is 23 or 25 hours).
//
// Then the chains kept points need are kept too ("needed by …"), so a kept point is always
// restorable and no instant inside the log window is lost:
//
//   - A kept differential keeps its base full (the non-copy-only full whose CheckpointLSN is
//     its DifferentialBaseLSN, as internal/control/planner pairs them).
//   - Runs of kept logs are anchored. From the earliest kept log of each run, Retain walks
//     back along the chain (L[n].LastLSN == L[n+1].FirstLSN), keeping each log it passes,
//     until the log in hand covers a base (full or differential: L.FirstLSN <= B.LastLSN <
//     L.LastLSN) that started no later than the run's target, min(now-LogDays,
//     first kept log's Start); it keeps that base (one already kept if there is one, else the
//     newest full, else the newest differential). A walk stops early on reaching a log that
//     is already kept (an older run already anchored it). At the start of a chain (no earlier
//     log) it keeps the oldest base the first log covers, the earliest that chain can start.
//     So every instant from now-LogDays on that the points could restore, the kept points
//     still restore.
//
// Points of different databases (DatabaseGUID: a database dropped and created again restarts
// its LSNs) never chain, as in the planner.
//
// Logs anchored this way would pile up if the bases before the log window were all deleted
// before the window reached them (the anchor could then never move on). Validate therefore
// requires the fulls (or, with differentials, the differentials) to be kept at least as long
// as logs, which makes the next anchor always present when the window reaches it.
//
// # Restore drills
//
// A policy may carry a drill (DrillSpec: every day or week, restore the newest point or a
// random restorable instant, on an instance, at most MaxPerInstance at once per instance).
// drill.go holds the planner's rules, pure like the rest: each item has a slot in its period
// hashed from its ID (DrillSlot), a drill is due once per slot (DrillDueAt), and PlanDrills
// picks the due ones, longest-waiting first, within each target instance's bound. The
// sqlvault.DrillPlanner workflow applies them through the control activity PlanDrills.
package policy
