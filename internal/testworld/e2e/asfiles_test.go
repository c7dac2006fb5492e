package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// Issue 11, item 5: restore.sql must run as written on the instance it came from. Restoring
// the protected database as files without a new name used to write a script that failed
// with 3159 (the tail of the log not backed up) on the live database; now it says in its
// header that it overwrites that database and uses WITH REPLACE and explicit MOVE clauses.
// Under a new name it says the database did not exist, moves the files under that name, and
// stops rather than overwrite a database of that name created since.
func TestRestoreAsFilesScriptRunsAsWrittenAndSaysWhatItOverwrites(t *testing.T) {
	t.Parallel()
	onEachPath(t, testRestoreAsFilesScriptRunsAsWrittenAndSaysWhatItOverwrites)
}

func testRestoreAsFilesScriptRunsAsWrittenAndSaysWhatItOverwrites(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	s.startAgent()
	f := s.buildChain("Over")
	at := f.inside[5]

	// First an overwrite restore, whose tail-log backup is the one Backup that may take a
	// tail-log (issue 11, item 9): its child passes the guard. Recorded for replay: the
	// strict-input and tail-log guard markers.
	run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Over", PointID: f.points[len(f.points)-1].PointID, Overwrite: true})
	var over protocol.RestoreResult
	require.NoError(t, run.Get(context.Background(), &over))
	require.NotNil(t, over.TailLog, "the tail-log child ran")
	s.requireOnPath(s.points(vm, "Over"), s.sqlDB, "Over") // the tail-log backup too
	s.record("restore-overwrite-strict-input", s.history(run.GetID(), run.GetRunID()))
	s.record("backup-tail-log-child", s.history(protocol.TailLogWorkflowID(run.GetID()), ""))

	recorded := false
	asFiles := func(target string) string {
		t.Helper()
		run := s.startRestore(protocol.RestoreInput{Instance: vm, Database: "Over", At: &at, TargetDatabase: target, AsFilesDir: t.TempDir()})
		var res protocol.RestoreResult
		require.NoError(t, run.Get(context.Background(), &res))
		require.NotNil(t, res.Files)
		if !recorded {
			s.record("restore-as-files-strict-input", s.history(run.GetID(), run.GetRunID()))
			recorded = true
		}
		b, err := os.ReadFile(res.Files.Script)
		require.NoError(t, err)
		return string(b)
	}

	// Over the protected database itself, on its own instance.
	script := asFiles("")
	assert.Contains(t, script, "WARNING: IT OVERWRITES database [Over], which existed on "+vm+" (state ONLINE)")
	assert.Contains(t, script, "WITH NORECOVERY,\n       REPLACE,")
	assert.Contains(t, script, "MOVE N'")
	_, err := s.sqlDB.Exec(script)
	require.NoError(t, err, script)
	assert.Equal(t, f.src.DigestAt(at), s.db("Over").Digest())

	// Under a new name: no REPLACE, every file moved to a name made from the new name.
	script = asFiles("Over_copy")
	assert.Contains(t, script, "Database [Over_copy] did not exist on "+vm)
	assert.NotContains(t, script, "       REPLACE")
	assert.Contains(t, script, "Over_copy.mdf")
	assert.Contains(t, script, "Over_copy_log.ldf")
	_, err = s.sqlDB.Exec(script)
	require.NoError(t, err, script)
	assert.Equal(t, f.src.DigestAt(at), s.db("Over_copy").Digest())

	// A database of that name created after the script was written is not overwritten.
	script = asFiles("Over_later")
	later, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Over_later"})
	require.NoError(t, err)
	before := later.Digest()
	_, err = s.sqlDB.Exec(script)
	require.Error(t, err, "the script stops instead of replacing a database it did not know about")
	assert.Equal(t, before, s.db("Over_later").Digest())

	// Every comment line stays a comment; no statement hides in one.
	for _, line := range strings.Split(script, "\n") {
		if strings.Contains(line, "--") {
			assert.True(t, strings.HasPrefix(line, "--"), "%q", line)
		}
	}
}
