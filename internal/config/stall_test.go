package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The stall limits read as durations and refuse nonsense by name.
func TestAgentStallLimits(t *testing.T) {
	var a Agent
	require.NoError(t, yaml.Unmarshal([]byte("stallAfter: 90s\nstallAfterBusy: 3h\n"), &a))
	assert.Equal(t, 90*time.Second, a.StallAfter)
	assert.Equal(t, 3*time.Hour, a.StallAfterBusy)

	c := Default()
	c.Role = RoleAgent
	c.Agent.StallAfter, c.Agent.StallAfterBusy = 10*time.Minute, time.Minute
	assert.Contains(t, errorLines(c.Validate()),
		"agent.stallAfter: stallAfter and stallAfterBusy must be positive durations (e.g. 5m and 2h), stallAfterBusy at least stallAfter (got 10m0s and 1m0s)")
	c.Agent.StallAfter, c.Agent.StallAfterBusy = -time.Second, 0
	assert.Contains(t, errorLines(c.Validate()),
		"agent.stallAfter: stallAfter and stallAfterBusy must be positive durations (e.g. 5m and 2h), stallAfterBusy at least stallAfter (got -1s and 0s)")
	c.Agent.StallAfter, c.Agent.StallAfterBusy = 0, 0
	for _, l := range errorLines(c.Validate()) {
		assert.NotContains(t, l, "stallAfter", "unset means the defaults")
	}
}
