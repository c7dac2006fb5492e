package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// starter runs the CLI against the stack, configured by environment as a user would.
func (s *stack) starter(args ...string) (string, string, error) {
	return s.starterEnv([]string{"SQLVAULT_TEMPORAL_ADDRESS=" + s.temporal.HostPort, "SQLVAULT_TEMPORAL_NAMESPACE=" + s.temporal.Namespace}, args...)
}

// starterEnv runs the CLI with env (how to reach Temporal) added to the stack's settings.
func (s *stack) starterEnv(env []string, args ...string) (string, string, error) {
	cmd := exec.Command(buildBinary(s.t, "./cmd/sqlvault"), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env,
		"SQLVAULT_CONTROL_TASK_QUEUE="+s.controlQueue(),
		"SQLVAULT_VAULT_AUTH=connectionString",
		"SQLVAULT_VAULT_CONNECTION_STRING="+s.azurite.ConnectionString,
		"SQLVAULT_VAULT_CONTAINER="+s.container,
		"SQLVAULT_KEY_FILE="+s.keyFile,
	)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestStarterBackupListShowVerify drives the CLI the way the README shows.
func TestStarterBackupListShowVerify(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "SalesDB", DataPages: 1024})
	require.NoError(t, err)
	_, err = db.Write(10)
	require.NoError(t, err)

	out, errOut, err := s.starter("backup", "--instance", vm, "--database", "SalesDB", "--type", "full", "--agent-vm", s.agentVM(), "--wait", "--json")
	require.NoError(t, err, errOut)
	var res protocol.BackupResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	rp := res.RecoveryPoint
	assert.Equal(t, "SalesDB", rp.Database)
	assert.Equal(t, protocol.Full, rp.Type)
	assert.Equal(t, "on-demand", rp.Reason)
	assert.Equal(t, s.msdb("SalesDB")[0].Last, rp.LastLSN)

	out, errOut, err = s.starter("list", "--instance", vm, "--database", "SalesDB")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "POINT")
	assert.Contains(t, out, rp.PointID)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Len(t, lines, 2, "a header and one recovery point:\n%s", out)

	out, errOut, err = s.starter("show", rp.PointID, "--instance", vm, "--database", "SalesDB")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, rp.LastLSN)
	assert.Contains(t, out, "AES-256-GCM")

	out, errOut, err = s.starter("verify", rp.PointID, "--instance", vm, "--database", "SalesDB", "--deep")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "is intact")

	// A user error comes back named, with what to do.
	_, errOut, err = s.starter("backup", "--instance", vm, "--database", "Nope", "--agent-vm", s.agentVM(), "--wait")
	require.Error(t, err)
	assert.Contains(t, errOut, "DatabaseNotFound")
	// Bad input never reaches Temporal.
	_, errOut, err = s.starter("backup", "--instance", vm, "--database", "SalesDB", "--type", "weekly")
	require.Error(t, err)
	assert.Contains(t, errOut, `"type" must be one of`)
}

// TestStarterRestoreAndRestorable: `restorable` shows the ranges, `restore --at … --as-name
// --wait` restores exactly, `--as-files` writes files and the script, and an instant
// outside every range is refused with the nearest restorable instants.
func TestStarterRestoreAndRestorable(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	f := s.buildChain("Shop")

	out, errOut, err := s.starter("restorable", "--instance", vm, "--database", "Shop")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "FROM (UTC)")
	assert.Contains(t, out, f.points[0].StartTime.UTC().Format("2006-01-02T15:04:05Z"))
	out, errOut, err = s.starter("restorable", "--instance", vm, "--database", "Shop", "--json")
	require.NoError(t, err, errOut)
	var rj struct {
		Ranges []struct{ From, To time.Time }
		Points int
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rj), out)
	assert.Equal(t, len(f.points), rj.Points)
	require.NotEmpty(t, rj.Ranges)

	at := f.inside[3]
	out, errOut, err = s.starter("restore", "--instance", vm, "--database", "Shop", "--at", at.Format(time.RFC3339Nano),
		"--as-name", "Shop_copy", "--to-vm", s.agentVM(), "--wait")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "state")
	assert.Contains(t, out, "ONLINE")
	assert.Equal(t, f.src.DigestAt(at), s.db("Shop_copy").Digest())

	dir := t.TempDir()
	out, errOut, err = s.starter("restore", "--instance", vm, "--database", "Shop", "--point", f.points[2].PointID,
		"--as-files", dir, "--to-vm", s.agentVM(), "--wait", "--json")
	require.NoError(t, err, errOut)
	var rr protocol.RestoreResult
	require.NoError(t, json.Unmarshal([]byte(out), &rr), out)
	require.NotNil(t, rr.Files)
	assert.FileExists(t, rr.Files.Script)

	early := f.points[0].StartTime.Add(-24 * time.Hour)
	_, errOut, err = s.starter("restore", "--instance", vm, "--database", "Shop", "--at", early.Format(time.RFC3339),
		"--as-name", "Never", "--to-vm", s.agentVM(), "--wait")
	require.Error(t, err)
	assert.Contains(t, errOut, "NotRestorable")
	assert.Contains(t, errOut, "earliest restorable instant is "+f.points[0].StartTime.UTC().Format(time.RFC3339))
	// Overwrite without the flag is refused before anything changes.
	_, errOut, err = s.starter("restore", "--instance", vm, "--database", "Shop", "--point", f.points[0].PointID, "--to-vm", s.agentVM(), "--wait")
	require.Error(t, err)
	assert.Contains(t, errOut, "TargetDatabaseExists")
}
