package protocol

// ActivityAGView asks a replica's agent how its instance sees a database's availability
// group (input AGViewInput, result AGViewResult).
const ActivityAGView = "sqlvault.agent.AvailabilityGroupView"

// AGViewInput names the replica (an instance the agent manages) and the database.
type AGViewInput struct {
	Instance string `json:"instance"`
	Database string `json:"database"`
}

// AGViewResult is the group as that replica sees it (nil: the database is in no group).
type AGViewResult struct {
	AG *AGInfo `json:"availabilityGroup,omitempty"`
}

// ItemInstance is the instance name an item is keyed by: the availability group for a
// database in one ("AG:<group>"), so its recovery points form one chain whichever replica
// took them; else the instance itself.
func ItemInstance(instance string, ag *AGInfo) string {
	if ag != nil {
		return "AG:" + ag.Name
	}
	return instance
}
