package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.yaml.in/yaml/v3"
)

// agent.instances[].dataPath: url (or nothing: the default) and vdi are data paths
// (whether this machine has the VDI library is the agent's check at start, and doctor's);
// anything else is not one.
func TestValidateDataPath(t *testing.T) {
	for _, dp := range []string{"", "url", "vdi"} {
		c := validAgent(t)
		c.Agent.Instances[0].DataPath = dp
		assert.NoError(t, c.Validate(), "dataPath %q", dp)
	}
	c := validAgent(t)
	c.Agent.Instances[0].DataPath = "disk"
	assert.Equal(t, []string{`agent.instances[0].dataPath: "disk" is not a data path; use url or vdi`}, errorLines(c.Validate()))

	var in Instance
	assert.NoError(t, yaml.Unmarshal([]byte("name: SQLVM1\ndataPath: url\n"), &in))
	assert.Equal(t, DataPathURL, in.DataPath, "the YAML key is dataPath")
}
