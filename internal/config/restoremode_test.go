package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// agent.instances[].restore takes overwrite, new or none (or nothing: overwrite, today's
// behaviour); anything else is refused by name.
func TestValidateInstanceRestoreMode(t *testing.T) {
	c := validAgent(t)
	for _, mode := range []string{"", RestoreOverwrite, RestoreNew, RestoreNone} {
		c.Agent.Instances[0].Restore = mode
		assert.NoError(t, c.Validate(), "%q", mode)
	}
	c.Agent.Instances[0].Restore = "replace"
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `agent.instances[0].restore: "replace" is not a restore setting; use overwrite (the default), new`)
}
