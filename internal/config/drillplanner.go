package config

import "time"

// DrillPlanner configures the restore-drill planner the control role starts (workflow
// sqlvault.DrillPlanner under one workflow ID; see README "Restore drills").
type DrillPlanner struct {
	// Off: the control worker does not start the planner (one already running keeps running).
	Off bool `yaml:"off" json:"off"`
	// Every is the time between the planner's passes over the due drills. Default 5m.
	Every time.Duration `yaml:"every" json:"every"`
}

// Defaults and bounds of the drill planner.
const (
	DefaultDrillPlannerEvery = 5 * time.Minute
	MinDrillPlannerEvery     = time.Second
)

func (c *Config) validateDrillPlanner(v *validator) {
	d := c.DrillPlanner
	if !c.Role.RunsControl() || d.Off {
		return
	}
	if d.Every < MinDrillPlannerEvery {
		v.addf("drillPlanner.every", "%s is too short; each pass reads every drilled item's drills, so use at least %s (default %s)", d.Every, MinDrillPlannerEvery, DefaultDrillPlannerEvery)
	}
}
