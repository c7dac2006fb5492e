package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/datapath"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// TestUserErrorsFailFast: each request that cannot succeed fails with its named error on
// the first attempt, says what to do, and leaves no recovery point.
func TestUserErrorsFailFast(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Simple", DataPages: 64, Recovery: "SIMPLE"})
	require.NoError(t, err)
	_, err = s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "NoFull", DataPages: 64})
	require.NoError(t, err)
	_, err = s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Archive", DataPages: 64, ReadOnly: true})
	require.NoError(t, err)

	cases := []struct {
		name    string
		in      protocol.BackupInput
		kind    string
		advice  string
		prepare func()
		undo    func()
	}{
		{name: "log backup in SIMPLE recovery", in: s.backupInput("Simple", protocol.Log), kind: protocol.ErrLogBackupSimple, advice: "SET RECOVERY FULL"},
		{name: "no base for a differential", in: s.backupInput("NoFull", protocol.Differential), kind: protocol.ErrNoDifferentialBase, advice: "take a full backup first"},
		{name: "log backup without a full", in: s.backupInput("NoFull", protocol.Log), kind: protocol.ErrNoLogChain, advice: "take a full backup first"},
		{name: "database missing", in: s.backupInput("Nope", protocol.Full), kind: protocol.ErrDatabaseNotFound, advice: "does not exist"},
		{name: "read-only differential", in: s.backupInput("Archive", protocol.Differential), kind: protocol.ErrReadOnlyDifferential, advice: "only full and copy-only full"},
		{name: "instance not managed", in: protocol.BackupInput{Instance: "OTHERVM", Database: "x", Type: protocol.Full, VM: s.agentVM()},
			kind: protocol.ErrInstanceNotManaged, advice: "agent.instances"},
		{name: "not sysadmin", in: s.backupInput("NoFull", protocol.Full), kind: protocol.ErrNotSysadmin, advice: "ALTER SERVER ROLE [sysadmin] ADD MEMBER [sqlvault]",
			prepare: func() { require.NoError(t, s.inst.SetSysadmin(sqlLogin, false)) },
			undo:    func() { require.NoError(t, s.inst.SetSysadmin(sqlLogin, true)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.prepare != nil {
				c.prepare()
				defer c.undo()
			}
			run := s.start(c.in)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := run.Get(ctx, nil)
			require.Error(t, err)
			assert.Equal(t, c.kind, protocol.ErrorType(err), "%v", err)
			assert.Contains(t, err.Error(), c.advice)
			// Not retried: every activity ran once (a wall-clock bound would be noise on a
			// loaded machine; the history is the proof).
			for act, attempts := range activityAttempts(s.history(run.GetID(), run.GetRunID())) {
				assert.EqualValues(t, 1, attempts, "%s ran more than once", act)
			}
		})
	}
	// Nothing reached the vault as a recovery point.
	for _, b := range s.blobs() {
		// (The agent record, last-seen of the VM's agent, is not a point.)
		assert.False(t, strings.HasSuffix(b.Name, ".json") && !strings.HasPrefix(b.Name, vault.AgentsPrefix), "unexpected manifest %s", b.Name)
	}
}

// TestStreamFaultIsRetriedAndCommitsOnce: SQL Server fails mid-stream of a striped backup;
// the stream activity is retried and the backup ends with exactly one recovery point of
// every stripe, which restores exactly; the failed attempt's blobs are garbage the sweep
// removes. On either data path (on VDI a stripe is a virtual device).
func TestStreamFaultIsRetriedAndCommitsOnce(t *testing.T) {
	t.Parallel()
	onEachPath(t, testStreamFaultIsRetriedAndCommitsOnce)
}

func testStreamFaultIsRetriedAndCommitsOnce(t *testing.T, path datapath.Kind) {
	s := newStack(t, onPath(path))
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Flaky", DataPages: 2048})
	require.NoError(t, err)
	_, err = db.Write(20)
	require.NoError(t, err)
	s.inst.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 6 << 20, Fail: true})
	in := s.backupInput("Flaky", protocol.Full)
	in.Stripes = 2
	run := s.start(in)
	var res protocol.BackupResult
	require.NoError(t, run.Get(context.Background(), &res))
	attempts := activityAttempts(s.history(run.GetID(), run.GetRunID()))
	assert.EqualValues(t, 2, attempts[protocol.ActivityStreamBackup], "the first stream failed and was retried")
	ms := s.points(vm, "Flaky")
	require.Len(t, ms, 1)
	require.Len(t, ms[0].Stripes, 2)
	require.Len(t, s.msdb("Flaky"), 1, "SQL Server completed one backup")
	s.requireOnPath(ms, s.sqlDB, "Flaky")
	s.requireNoGarbageAfterSweep()
	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Flaky", PointID: res.RecoveryPoint.PointID, TargetDatabase: "Flaky_copy"})
	require.NoError(t, err)
	assert.Equal(t, db.Digest(), s.db("Flaky_copy").Digest(), "the striped point restores exactly")
}

// requireNoGarbageAfterSweep sweeps with the grace period passed and checks that every
// blob left is a manifest or referenced by one.
func (s *stack) requireNoGarbageAfterSweep() {
	ctx := context.Background()
	_, err := s.repo.Sweep(ctx, time.Now().Add(48*time.Hour), 24*time.Hour, false)
	require.NoError(s.t, err)
	referenced := map[string]bool{}
	items, err := s.repo.ListItems(ctx)
	require.NoError(s.t, err)
	for _, item := range items {
		ms, err := s.repo.ListPoints(ctx, item)
		require.NoError(s.t, err)
		for _, m := range ms {
			referenced[vault.ManifestBlob(m.ItemID, m.PointID)] = true
			for _, st := range m.Stripes {
				referenced[st.Blob], referenced[st.Index] = true, true
			}
		}
	}
	for _, b := range s.blobs() {
		config := strings.HasPrefix(b.Name, vault.PoliciesPrefix) || strings.HasSuffix(b.Name, "/item.json") ||
			vault.IsLeaseBlob(b.Name) || strings.HasPrefix(b.Name, vault.AgentsPrefix)
		assert.True(s.t, referenced[b.Name] || config, "garbage left after the sweep: %s", b.Name)
	}
}

// TestVaultOutageIsRidden: the storage account is unreachable for a while in the middle of
// a backup; the backup still ends with one good recovery point.
func TestVaultOutageIsRidden(t *testing.T) {
	t.Parallel()
	s := newStack(t, withOwnAzurite())
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Outage", DataPages: 2048})
	require.NoError(t, err)
	_, err = db.Write(20)
	require.NoError(t, err)
	// Hold the stream after 4 MiB so the outage lands mid-stream.
	s.inst.InjectStreamFault(&sqlsim.StreamFault{AfterBytes: 4 << 20, Stall: 2 * time.Second})
	run := s.start(s.backupInput("Outage", protocol.Full))
	require.Eventually(t, func() bool {
		var n int
		_ = s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.dm_exec_requests WHERE command = 'BACKUP DATABASE'").Scan(&n)
		return n == 1
	}, 30*time.Second, 20*time.Millisecond)
	restore := s.azurite.Outage()
	time.Sleep(6 * time.Second)
	require.NoError(t, restore())
	var res protocol.BackupResult
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, run.Get(ctx, &res))
	ms := s.points(vm, "Outage")
	require.Len(t, ms, 1)
	require.NoError(t, s.repo.DeepVerify(ctx, ms[0], s.key))
	s.requireNoGarbageAfterSweep()
}

// TestFailedBackupLeavesNoRecoveryPoint: a backup that finally fails reports a clear error
// and leaves no manifest.
func TestFailedBackupLeavesNoRecoveryPoint(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Doomed", DataPages: 128})
	require.NoError(t, err)
	// SQL Server refuses only once streaming starts (3035): the failure comes from the
	// stream, after the endpoint session and credential were set up.
	_, err = s.backup(s.backupInput("Doomed", protocol.Differential))
	require.Error(t, err)
	assert.Equal(t, protocol.ErrNoDifferentialBase, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "SQL Server error 3035")
	assert.Empty(t, s.points(vm, "Doomed"))
	// The operation's credential was dropped: no SAS is left in SQL Server.
	var n int
	require.NoError(t, s.sqlDB.QueryRow("SELECT COUNT(*) FROM sys.credentials").Scan(&n))
	assert.Zero(t, n)
}

// TestNoSecretInHistoriesOrLogs runs a backup and scans its whole history and every log
// line for the SQL password, SAS signatures, the storage key and the vault key.
func TestNoSecretInHistoriesOrLogs(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Secrets", DataPages: 256})
	require.NoError(t, err)
	_, err = db.Write(5)
	require.NoError(t, err)
	runs := []protocol.BackupInput{s.backupInput("Secrets", protocol.Full), s.backupInput("Secrets", protocol.Log),
		s.backupInput("Secrets", protocol.Differential), s.backupInput("Missing", protocol.Full)}
	keyFile, err := os.ReadFile(s.keyFile)
	require.NoError(t, err)
	secrets := map[string]string{
		"SQL password":       sqlPassword,
		"SAS signature":      "sig=",
		"storage key":        testenv.AzuriteKey,
		"storage key prefix": "AccountKey=",
		"vault key":          strings.TrimSpace(string(keyFile)),
	}
	for i, in := range runs {
		run := s.start(in)
		_ = run.Get(context.Background(), nil)
		h := historyJSON(t, s.history(run.GetID(), run.GetRunID()))
		assert.Empty(t, secretsIn(string(h), secrets), "secrets in the history of %s", run.GetID())
		if i == 0 {
			record(t, "backup-full", s.history(run.GetID(), run.GetRunID()))
		}
		if i == 3 {
			record(t, "backup-user-error", s.history(run.GetID(), run.GetRunID()))
		}
	}
	logs := s.logText()
	require.NotEmpty(t, logs)
	assert.Empty(t, secretsIn(logs, secrets), "secrets in the logs")
}
