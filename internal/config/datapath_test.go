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

// agent.vdiLibrary: /opt/mssql/lib/libsqlvdi.so by default on Linux; the environment and
// the flag set it like any other agent setting; a relative path is refused.
func TestVDILibrary(t *testing.T) {
	assert.Equal(t, "/opt/mssql/lib/libsqlvdi.so", Default().Agent.VDILibrary)
	assert.Equal(t, Platform().VDILibrary, Default().Agent.VDILibrary)
	c, err := Load("", envMap("SQLVAULT_AGENT_VDI_LIBRARY", "/srv/mssql/libsqlvdi.so"), nil)
	assert.NoError(t, err)
	assert.Equal(t, "/srv/mssql/libsqlvdi.so", c.Agent.VDILibrary)
	fs := flagSet(t, "--vdi-library", "/usr/local/lib/libsqlvdi.so")
	c, err = Load("", envMap("SQLVAULT_AGENT_VDI_LIBRARY", "/srv/mssql/libsqlvdi.so"), fs)
	assert.NoError(t, err)
	assert.Equal(t, "/usr/local/lib/libsqlvdi.so", c.Agent.VDILibrary, "the flag wins")

	c = validAgent(t)
	c.Agent.VDILibrary = "/nowhere/libsqlvdi.so"
	assert.NoError(t, c.Validate(), "a missing library is no configuration error: instances then take url")
	c.Agent.VDILibrary = "libsqlvdi.so"
	assert.Equal(t, []string{`agent.vdiLibrary: "libsqlvdi.so" is not an absolute path; name the library's file, e.g. /opt/mssql/lib/libsqlvdi.so (or leave vdiLibrary out for that default)`}, errorLines(c.Validate()))
}
