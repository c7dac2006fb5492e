package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// Issue 13: `sqlvault status` of a SIMPLE-recovery database protected with a policy that
// has logs: Temporal holds no log schedule for it, so status shows no next log backup, and
// its RPO is judged against the daily full, not the log interval it cannot follow.
func TestStatusOfASimpleRecoveryDatabase(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startControl()
	s.startAgent()
	s.putPolicy(dailyPolicy())
	_, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Scratch", DataPages: 16, Recovery: "SIMPLE"})
	require.NoError(t, err)
	out, errOut, err := s.starter("protect", "--vm", s.agentVM(), "--instance", vm, "--policy", "daily-30d", "Scratch")
	require.NoError(t, err, errOut)
	require.Len(t, s.points(vm, "Scratch"), 1, "the first full:\n%s", out)

	now := s.clock.Now().Add(5 * time.Hour)
	out, errOut, err = s.starter("status", "--json", "--now", now.Format(time.RFC3339))
	require.NoError(t, err, errOut)
	var st []struct {
		Database, Health, RPOTarget string
		NextRun                     map[string]time.Time
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	require.Len(t, st, 1)
	assert.Equal(t, "Scratch", st[0].Database)
	assert.NotContains(t, st[0].NextRun, "log", "a SIMPLE database has no log schedule: %v", st[0].NextRun)
	assert.True(t, st[0].NextRun["full"].After(time.Now().Add(-time.Minute)), "the full schedule's next run: %v", st[0].NextRun)
	assert.Equal(t, "24h0m0s", st[0].RPOTarget)
	assert.Equal(t, "ok", st[0].Health)

	out, errOut, err = s.starter("status", "--now", now.Format(time.RFC3339))
	require.NoError(t, err, errOut)
	assert.Regexp(t, `(?m)^\S+ +Scratch +daily-30d +ok +5h\S* / 24h0m0s +\S+ \S+ +- +\S+ \S+ +-\n`, out)
}
