package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Issue 16, part 4: the Temporal namespace is a trust boundary. Whoever can start a
// workflow there must not be able to destroy backups at once, overwrite a protected
// database on a whim, or make an agent act outside what its own configuration allows; and
// the Temporal connection can come from the Temporal CLI's own profile.

// protect creates database name with some data and protects it with the daily policy
// (its first full runs).
func (s *stack) protect(name string) string {
	s.t.Helper()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: name, DataPages: 32})
	require.NoError(s.t, err)
	_, err = db.Write(3)
	require.NoError(s.t, err)
	var cr protocol.ConfigureProtectionResult
	_, err = s.run(protocol.WorkflowConfigureProtection, protocol.ConfigureProtectionInput{VM: s.agentVM(), Instance: vm,
		Databases: []string{name}, Policy: dailyPolicy().Name}, &cr)
	require.NoError(s.t, err)
	require.Len(s.t, cr.Protected, 1)
	require.NotNil(s.t, cr.Protected[0].FirstFull, cr.Protected[0].FirstFullError)
	return cr.Protected[0].ItemID
}

// TestStopWithDeleteIsSoftAndResumeUndoesIt: StopProtection with delete deletes nothing;
// retention keeps every point through the soft-delete period; ResumeProtection in it
// brings the item back with every point, restorable. Stopped with delete again (from the
// CLI, which says when the data goes), the first retention run after the period deletes
// the points and the item.
func TestStopWithDeleteIsSoftAndResumeUndoesIt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	item := s.protect("Soft")
	s.clock.Advance(time.Minute)
	last := s.mustBackup(s.backupInput("Soft", protocol.Log))
	digest := s.db("Soft").Digest()

	var sr protocol.StopProtectionResult
	stopAt := s.clock.Now()
	run, err := s.run(protocol.WorkflowStopProtection, protocol.StopProtectionInput{Instance: vm, Database: "Soft", DeleteData: true}, &sr)
	require.NoError(t, err)
	record(t, "stop-protection-soft-delete", s.history(run.GetID(), run.GetRunID()))
	assert.Equal(t, protocol.ItemStoppedDelete, sr.State)
	require.NotNil(t, sr.DeleteAfter)
	assert.WithinDuration(t, stopAt.Add(14*24*time.Hour), *sr.DeleteAfter, time.Minute, "14 days after the stop")
	assert.Empty(t, s.schedules(item))
	assert.Len(t, s.points(vm, "Soft"), 2, "nothing deleted by the stop")

	// Retention within the period keeps everything and says so.
	s.nowOffset = 13 * 24 * time.Hour
	var rr protocol.RetentionResult
	_, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{}, &rr)
	require.NoError(t, err)
	assert.Equal(t, 1, rr.SoftDeleted)
	assert.Empty(t, rr.Deleted)
	assert.Len(t, s.points(vm, "Soft"), 2)

	// Resume undoes it: protected again, schedules back, and the points restore.
	run, err = s.run(protocol.WorkflowResumeProtection, protocol.ResumeProtectionInput{Instance: vm, Database: "Soft"}, nil)
	require.NoError(t, err)
	record(t, "resume-protection-soft-deleted", s.history(run.GetID(), run.GetRunID()))
	it, err := s.repo.Item(context.Background(), item)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemProtected, it.State)
	assert.Equal(t, []string{"full", "log"}, s.schedules(item))
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Soft", PointID: last.PointID, TargetDatabase: "Soft_back"})
	require.NoError(t, err)
	assert.Equal(t, digest, s.db("Soft_back").Digest(), "the undone delete restores the data as it was")

	// Stopped with delete from the CLI: it says when the data goes and how to undo it.
	s.nowOffset = 0
	out, errOut, err := s.starter("unprotect", "--instance", vm, "--database", "Soft", "--delete-data")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "protection of Soft stopped; recovery points deleted by the first retention run after ")
	assert.Contains(t, out, "(soft delete); until then `sqlvault resume --instance "+vm+" --database Soft` undoes it")
	s.nowOffset = 14*24*time.Hour + time.Hour
	rr = protocol.RetentionResult{}
	_, err = s.run(protocol.WorkflowRetention, protocol.RetentionInput{}, &rr)
	require.NoError(t, err)
	assert.Zero(t, rr.SoftDeleted)
	assert.Len(t, rr.Deleted, 2)
	assert.Equal(t, []string{item}, rr.ItemsRemoved)
	assert.Empty(t, s.points(vm, "Soft"))
	_, err = s.run(protocol.WorkflowResumeProtection, protocol.ResumeProtectionInput{Instance: vm, Database: "Soft"}, nil)
	assert.Equal(t, protocol.ErrNotProtected, protocol.ErrorType(err), "too late to undo: %v", err)
}

// TestOverwriteOfAProtectedDatabaseNeedsItsProtectionTag: a started Restore with overwrite
// of a database under active protection is refused by name before anything changes (no
// tail-log, the database as it was); the CLI, which reads the vault, sends the item's tag
// and the overwrite goes ahead; a database that is no protected item needs no tag.
func TestOverwriteOfAProtectedDatabaseNeedsItsProtectionTag(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	s.protect("Guarded")
	first := s.points(vm, "Guarded")[0]
	_, err := s.db("Guarded").Write(2)
	require.NoError(t, err)
	before := s.db("Guarded").Digest()

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Guarded", PointID: first.PointID, Overwrite: true})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrProtectedOverwrite, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), "is under active protection")
	assert.Contains(t, err.Error(), "the request names no protection tag")
	assert.Equal(t, before, s.db("Guarded").Digest(), "nothing changed")
	assert.Len(t, s.points(vm, "Guarded"), 1, "no tail-log was taken")

	// The tag `status --json` shows is what the CLI sends.
	out, errOut, err := s.starter("status", "--json")
	require.NoError(t, err, errOut)
	var st []struct {
		Database, ProtectionTag string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Len(t, st, 1)
	assert.Regexp(t, `^protected-[0-9a-f]{12}$`, st[0].ProtectionTag)

	out, errOut, err = s.starter("restore", "--instance", vm, "--database", "Guarded", "--point", first.PointID, "--overwrite",
		"--to-vm", s.agentVM(), "--wait")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "tail-log backup")
	record(t, "restore-overwrite-protection-tag", s.history("sqlvault-restore-"+vault.ItemID(vm, "Guarded"), ""))
	assert.Len(t, s.points(vm, "Guarded"), 2, "the tail-log backup is a recovery point")

	// Not a protected item (a copy): no tag needed.
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Guarded", PointID: first.PointID, TargetDatabase: "Guarded_copy"})
	require.NoError(t, err)
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Guarded", PointID: first.PointID, TargetDatabase: "Guarded_copy", Overwrite: true})
	require.NoError(t, err)
}

// TestAgentAcceptsOnlyWhatItsConfigAllows: an agent whose instance says restore: new
// refuses to replace a database, whoever asks (RestoreNotAllowedByAgent, never retried),
// and still restores under a new name; a folder outside agent.restoreRoots is refused as
// PathNotAllowedByAgent; an instance it does not manage is InstanceNotManaged.
func TestAgentAcceptsOnlyWhatItsConfigAllows(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	a := s.newAgent(s.inst, vm, s.agentVM(), func(o *agent.Options) {
		o.Instances[0].Restore = protocol.RestoreModeNew
	})
	w := a.NewWorker(s.tc, agentWorkerOptions())
	require.NoError(t, w.Start())
	t.Cleanup(func() { w.Stop(); a.Close() })
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Ledger", DataPages: 32})
	require.NoError(t, err)
	_, err = db.Write(3)
	require.NoError(t, err)
	p := s.mustBackup(s.backupInput("Ledger", protocol.Full))
	_, err = db.Write(1)
	require.NoError(t, err)
	before := db.Digest()

	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Ledger", PointID: p.PointID, Overwrite: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err = run.Get(ctx, nil)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrRestoreNotAllowed, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), "agent.instances[].restore: new")
	assert.EqualValues(t, 1, activityAttempts(s.history(run.GetID(), run.GetRunID()))[protocol.ActivityPrepareRestore], "never retried")
	assert.Equal(t, before, s.db("Ledger").Digest(), "the database is as it was")

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Ledger", PointID: p.PointID, TargetDatabase: "Ledger_copy"})
	require.NoError(t, err, "a new database is fine")

	outside := filepath.Join(string(filepath.Separator), "sqlvault-not-a-root", fmt.Sprint(os.Getpid()))
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Ledger", PointID: p.PointID, AsFilesDir: outside})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrPathNotAllowed, protocol.ErrorType(err), "%v", err)
	assert.NoDirExists(t, outside)

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Ledger", PointID: p.PointID, TargetInstance: `SQLVM1\OTHER`,
		TargetVM: s.agentVM(), TargetDatabase: "Ledger"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrInstanceNotManaged, protocol.ErrorType(err), "%v", err)
}

// TestWorkerAndCLIConnectThroughATemporalCLIProfile: a control worker process and the CLI
// whose sqlvault configuration names no Temporal address or namespace reach the dev server
// through a Temporal CLI profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), and a backup
// runs through them.
func TestWorkerAndCLIConnectThroughATemporalCLIProfile(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	profile := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(profile, []byte(fmt.Sprintf(`
[profile.default]
address = "127.0.0.1:1"

[profile.sqlvault]
address = %q
namespace = %q
`, s.temporal.HostPort, s.temporal.Namespace)), 0o600))
	env := []string{"TEMPORAL_CONFIG_FILE=" + profile, "TEMPORAL_PROFILE=sqlvault"}
	s.startWorkerProcessEnv("control", "drillPlanner:\n  off: true\nwatchdog:\n  off: true\n", env)
	s.startAgent()
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Profiled", DataPages: 16})
	require.NoError(t, err)

	out, errOut, err := s.starterEnv(env, "backup", "--instance", vm, "--database", "Profiled", "--type", "full",
		"--agent-vm", s.agentVM(), "--wait")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "Profiled")
	assert.Len(t, s.points(vm, "Profiled"), 1, "the control worker from the profile committed it")

	// The profile is what they used: without it (profile default: nothing listens there) the
	// CLI says where it looked.
	_, errOut, err = s.starterEnv([]string{"TEMPORAL_CONFIG_FILE=" + profile}, "backup", "--instance", vm, "--database", "Profiled",
		"--type", "full", "--agent-vm", s.agentVM(), "--wait")
	require.Error(t, err)
	assert.Contains(t, errOut, "cannot reach Temporal at 127.0.0.1:1")
}
