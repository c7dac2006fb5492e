package starter

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The CLI only starts workflows and reads the vault: it must not link the SQL Server client,
// the agent's packages or any activity package (issue 12). A new import that drags one of
// them in fails here with the offending package named.
func TestCLILinksNoAgentOrActivities(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sqlvault/sqlvault/cmd/sqlvault").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var bad []string
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "go-mssqldb") || strings.Contains(pkg, "sqlvault/internal/agent") ||
			strings.Contains(pkg, "sqlvault/activities") {
			bad = append(bad, pkg)
		}
	}
	require.Empty(t, bad, "cmd/sqlvault links packages it must not; find the import with `go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/sqlvault`")
	require.Contains(t, strings.Fields(string(out)), "github.com/sqlvault/sqlvault/starter", "the listing is of the CLI")
}
