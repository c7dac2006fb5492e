package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.yaml.in/yaml/v3"
)

// agent.instances[].dataPath: url (or nothing) is the only data path built; vdi is named
// and refused until issue 14 builds it; anything else is not a data path.
func TestValidateDataPath(t *testing.T) {
	for _, dp := range []string{"", "url"} {
		c := validAgent(t)
		c.Agent.Instances[0].DataPath = dp
		assert.NoError(t, c.Validate(), "dataPath %q", dp)
	}
	c := validAgent(t)
	c.Agent.Instances[0].DataPath = "vdi"
	assert.Equal(t, []string{`agent.instances[0].dataPath: the VDI data path is not built yet (issue 14); use url, or leave dataPath out`},
		errorLines(c.Validate()))
	c.Agent.Instances[0].DataPath = "disk"
	assert.Equal(t, []string{`agent.instances[0].dataPath: "disk" is not a data path; use url`}, errorLines(c.Validate()))

	var in Instance
	assert.NoError(t, yaml.Unmarshal([]byte("name: SQLVM1\ndataPath: url\n"), &in))
	assert.Equal(t, DataPathURL, in.DataPath, "the YAML key is dataPath")
}
