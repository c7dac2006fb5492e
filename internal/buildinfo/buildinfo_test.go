package buildinfo

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fakeBuild() (*debug.BuildInfo, bool) {
	return &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/sqlvault/sqlvault", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-06T05:00:00Z"},
			{Key: "vcs.modified", Value: "true"}, {Key: "GOOS", Value: "linux"}}}, true
}

func TestReadTakesVersionRevisionTimeModified(t *testing.T) {
	i := Read("sqlvault", fakeBuild)
	assert.Equal(t, Info{Binary: "sqlvault", Module: "github.com/sqlvault/sqlvault", Version: "v1.2.3", Revision: "0123456789abcdef0123",
		Time: "2026-12-06T05:00:00Z", Modified: true, GoVersion: "go1.26.0"}, i)
	assert.Equal(t, "sqlvault v1.2.3 rev 0123456789ab (2026-12-06T05:00:00Z, modified) go1.26.0", i.String())

	var b bytes.Buffer
	require.NoError(t, i.Print(&b, true))
	var back Info
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, i, back)
	assert.Contains(t, b.String(), `"revision": "0123456789abcdef0123"`)
}

func TestReadWithoutBuildInfo(t *testing.T) {
	i := Read("sqlvault-worker", func() (*debug.BuildInfo, bool) { return nil, false })
	assert.Equal(t, "sqlvault-worker (unknown version)", i.String())
}

// The command reads this test binary's real build information: at least the Go version.
func TestVersionCommandJSON(t *testing.T) {
	cmd := NewCommand("sqlvault")
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--json"})
	require.NoError(t, cmd.Execute())
	var i Info
	require.NoError(t, json.Unmarshal(out.Bytes(), &i), out.String())
	assert.Equal(t, "sqlvault", i.Binary)
	assert.Regexp(t, `^go1\.`, i.GoVersion)
}

// make release stamps the version and revision with -ldflags -X; they replace "(devel)"
// and an absent revision, never what the toolchain recorded.
func TestStampedVersionFillsWhatTheBuildDidNotRecord(t *testing.T) {
	version, revision = "1.2.3", "abcdef0123456789"
	defer func() { version, revision = "", "" }()
	devel := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/sqlvault/sqlvault", Version: "(devel)"}, GoVersion: "go1.26.8"}, true
	}
	if got := Read("sqlvault-worker", devel).String(); got != "sqlvault-worker 1.2.3 rev abcdef012345 go1.26.8" {
		t.Fatalf("got %q", got)
	}
	tagged := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/sqlvault/sqlvault", Version: "v2.0.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1111111111111111"}}}, true
	}
	if i := Read("sqlvault-worker", tagged); i.Version != "v2.0.0" || i.Revision != "1111111111111111" {
		t.Fatalf("the toolchain's values were replaced: %+v", i)
	}
}
