package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The drill planner is on by default with a 5m pass; off needs nothing else; a pass
// shorter than a second is refused by name.
func TestValidateDrillPlanner(t *testing.T) {
	c := Default()
	assert.Equal(t, DrillPlanner{Every: DefaultDrillPlannerEvery}, c.DrillPlanner, "on by default")
	check := func(d DrillPlanner) error {
		var v validator
		c := Default()
		c.Role = RoleControl
		c.DrillPlanner = d
		c.validateDrillPlanner(&v)
		if len(v.errs) == 0 {
			return nil
		}
		return v.errs[0]
	}
	require.NoError(t, check(DrillPlanner{Every: time.Second}))
	require.NoError(t, check(DrillPlanner{Off: true}), "off needs no interval")
	assert.ErrorContains(t, check(DrillPlanner{Every: 10 * time.Millisecond}), "drillPlanner.every: 10ms is too short")
}

// drillPlanner.off and .every are read from the YAML file.
func TestLoadDrillPlanner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.yaml")
	require.NoError(t, os.WriteFile(path, []byte("role: control\ndrillPlanner:\n  off: true\n  every: 30s\n"), 0o600))
	c, err := Load(path, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, DrillPlanner{Off: true, Every: 30 * time.Second}, c.DrillPlanner)
}
