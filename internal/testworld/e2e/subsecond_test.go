package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// Issue 13: `restore --at` with milliseconds restores to that instant, not to its whole
// second. Writes 100 ms apart inside one log backup; a restore to .250 must hold the
// writes at .100 and .200 and not the one at .300 (a restore truncated to .000 would hold
// none of them), and the printed plan shows the milliseconds it stopped at.
func TestStarterRestoreAtMillisecondsIsExact(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Tick", DataPages: 256})
	require.NoError(t, err)
	s.clock.Advance(time.Minute)
	_, err = db.Write(10)
	require.NoError(t, err)
	s.mustBackup(s.backupInput("Tick", protocol.Full))

	s.clock.Advance(time.Minute)
	second := s.clock.Now().Truncate(time.Second).Add(time.Second)
	s.clock.Advance(second.Sub(s.clock.Now()))
	for i := 0; i < 5; i++ { // writes at .000, .100, .200, .300, .400
		_, err = db.Write(1)
		require.NoError(t, err)
		s.clock.Advance(100 * time.Millisecond)
	}
	s.clock.Advance(time.Minute)
	s.mustBackup(s.backupInput("Tick", protocol.Log))

	at := second.Add(250 * time.Millisecond)
	require.NotEqual(t, db.DigestAt(second), db.DigestAt(at), "the test needs writes between the whole second and the instant")
	require.NotEqual(t, db.DigestAt(second.Add(300*time.Millisecond)), db.DigestAt(at))
	out, errOut, err := s.starter("restore", "--instance", vm, "--database", "Tick", "--at", at.Format(time.RFC3339Nano),
		"--as-name", "Tick_250", "--to-vm", s.agentVM(), "--wait")
	require.NoError(t, err, errOut)
	assert.Equal(t, db.DigestAt(at), s.db("Tick_250").Digest(), "restored to %s:\n%s", at.Format(time.RFC3339Nano), out)
	assert.Contains(t, out, "STOPAT "+at.UTC().Format("2006-01-02T15:04:05.000Z"), "the result shows the instant to the millisecond")
	assert.False(t, strings.Contains(out, "truncated"), fmt.Sprintf("nothing was truncated:\n%s", out))
}
