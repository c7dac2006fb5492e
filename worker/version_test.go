package worker

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/buildinfo"
)

func TestWorkerVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"version", "--json"}} {
		root := NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		require.NoError(t, root.Execute(), "%q", args)
		if len(args) == 1 {
			assert.Regexp(t, `^sqlvault-worker .* go1\.\S+\n$`, out.String())
			continue
		}
		var i buildinfo.Info
		require.NoError(t, json.Unmarshal(out.Bytes(), &i), out.String())
		assert.Equal(t, "sqlvault-worker", i.Binary)
		assert.Equal(t, "github.com/sqlvault/sqlvault", i.Module)
	}
}
