package config

import (
	"time"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Retention configures what the control role's retention does beyond the policies.
type Retention struct {
	// SoftDeleteDays is how long an item stopped with delete (StopProtection deleteData)
	// keeps its recovery points before retention deletes them; until then ResumeProtection
	// undoes the delete with every point intact. Default 14, Azure Backup's soft-delete
	// period; at least 1, at most MaxSoftDeleteDays (Azure's longest, 180). It is the
	// control worker's setting and no workflow input can shorten it: whoever can start
	// workflows in the namespace can ask for a delete, but not make it immediate.
	SoftDeleteDays int `yaml:"softDeleteDays" json:"softDeleteDays"`
}

// Bounds of retention.softDeleteDays.
const (
	MinSoftDeleteDays = 1
	MaxSoftDeleteDays = 180
)

// SoftDelete is retention.softDeleteDays as a duration.
func (r Retention) SoftDelete() time.Duration {
	return time.Duration(r.SoftDeleteDays) * 24 * time.Hour
}

func defaultRetention() Retention {
	return Retention{SoftDeleteDays: protocol.DefaultSoftDeleteDays}
}

func (c *Config) validateRetention(v *validator) {
	if d := c.Retention.SoftDeleteDays; d < MinSoftDeleteDays || d > MaxSoftDeleteDays {
		v.addf("retention.softDeleteDays", "%d is not %d to %d days: it is how long the recovery points of a database whose protection was stopped with delete stay restorable (and the delete undoable with ResumeProtection) before retention deletes them; the default is %d",
			d, MinSoftDeleteDays, MaxSoftDeleteDays, protocol.DefaultSoftDeleteDays)
	}
}
