package protocol

// ItemScheduleID names a protected item's Temporal Schedule of one backup kind (full,
// differential or log): sqlvault-<item>-<kind>. The name is public (README, the UI), and
// both the control activities that create the schedules and the CLI that reads their next
// runs use it.
func ItemScheduleID(itemID, kind string) string { return "sqlvault-" + itemID + "-" + kind }
