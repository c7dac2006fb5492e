package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Soft delete is 14 days unless set; 0 (which would make StopProtection's delete
// immediate) and more than 180 days are refused by name; an agent-only worker, which runs
// no retention, is not asked about it.
func TestRetentionSoftDeleteDays(t *testing.T) {
	c := validAgent(t)
	assert.Equal(t, 14, c.Retention.SoftDeleteDays)
	assert.Equal(t, 14*24*time.Hour, c.Retention.SoftDelete())
	for _, days := range []int{0, -1, 181} {
		c.Retention.SoftDeleteDays = days
		err := c.Validate()
		require.Error(t, err, "%d days", days)
		assert.Contains(t, err.Error(), "retention.softDeleteDays: ")
		assert.Contains(t, err.Error(), "is not 1 to 180 days")
	}
	c.Role = RoleAgent
	assert.NoError(t, c.Validate(), "an agent runs no retention")
	c.Role = RoleBoth
	c.Retention.SoftDeleteDays = 180
	assert.NoError(t, c.Validate())
}
