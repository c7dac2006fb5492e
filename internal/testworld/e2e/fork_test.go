package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// TestInstantBeforeAnOverwriteRestoreIsRestoredFromItsOwnTimeline is the review's
// reproduction of a silently wrong point-in-time restore: full → L1 → L2 with writes in
// between, more writes, a restore of L1 over the database (tail-log taken), writes, L3;
// then a restore to an instant between L2 and the overwrite. By LSNs alone full → L1 → L3
// is the shorter chain, and it restored L1's content and reported success. The instant
// belongs to the timeline that was live then: full → L1 → L2 → tail-log.
func TestInstantBeforeAnOverwriteRestoreIsRestoredFromItsOwnTimeline(t *testing.T) {
	t.Parallel()
	forkTimelines(t)
}

func forkTimelines(t *testing.T, opts ...stackOption) {
	s := newStack(t, opts...)
	s.startControl()
	s.startAgent()
	db, err := s.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: "Forked", DataPages: 512})
	require.NoError(t, err)
	write := func(n int) {
		s.clock.Advance(time.Minute)
		_, err := db.Write(n)
		require.NoError(t, err)
	}
	backup := func(typ protocol.BackupType) protocol.RecoveryPoint {
		s.clock.Advance(time.Second)
		return s.mustBackup(s.backupInput("Forked", typ))
	}
	write(50)
	full := backup(protocol.Full)
	write(10)
	l1 := backup(protocol.Log)
	write(10)
	backup(protocol.Log) // L2
	write(10)
	beforeOverwrite := s.clock.Now().Add(10 * time.Second)
	write(10)
	wantBefore := db.DigestAt(beforeOverwrite)

	s.clock.Advance(time.Minute)
	res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Forked", PointID: l1.PointID, Overwrite: true})
	require.NoError(t, err)
	require.NotNil(t, res.TailLog)
	write(10)
	afterOverwrite := s.clock.Now().Add(10 * time.Second)
	write(10)
	wantAfter := db.DigestAt(afterOverwrite)
	l3 := backup(protocol.Log)
	require.Equal(t, l1.LastLSN, l3.FirstLSN, "L3 continues from L1's last LSN, on the new recovery fork")
	require.NotEqual(t, wantBefore, wantAfter)

	// msdb recorded the fork the way SQL Server documents it, and the vault kept it.
	ms := s.points(vm, "Forked")
	last := ms[len(ms)-1]
	require.Equal(t, l3.PointID, last.PointID)
	assert.True(t, last.Backup.SpansFork(), "L3 spans the fork point")
	assert.Equal(t, string(l1.LastLSN), string(last.Backup.ForkPointLSN))
	require.NotNil(t, last.Backup.ForkTime)
	assert.False(t, last.Backup.ForkTime.After(afterOverwrite), "the fork began at the restore")
	for _, m := range ms[:len(ms)-1] {
		assert.False(t, m.Backup.SpansFork(), m.PointID)
		assert.NotEmpty(t, m.Backup.ForkGUID, m.PointID)
	}

	got, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Forked", At: &beforeOverwrite, TargetDatabase: "Forked_before"})
	require.NoError(t, err)
	assert.Equal(t, wantBefore, s.db("Forked_before").Digest(), "the instant before the overwrite comes from the old timeline")
	var steps []string
	for _, st := range got.Steps {
		steps = append(steps, st.PointID)
	}
	assert.Equal(t, full.PointID, steps[0])
	assert.Equal(t, res.TailLog.PointID, steps[len(steps)-1], "the tail-log holds that instant")

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Forked", At: &afterOverwrite, TargetDatabase: "Forked_after"})
	require.NoError(t, err)
	assert.Equal(t, wantAfter, s.db("Forked_after").Digest(), "the instant after the overwrite comes from the new timeline")

	// restorable shows each fork's ranges separately.
	out, _, err := s.starter("restorable", "--instance", vm, "--database", "Forked", "--json")
	require.NoError(t, err)
	var r struct {
		Ranges []struct {
			From, To time.Time
			Fork     string
		} `json:"ranges"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	forks := map[string]bool{}
	for _, rg := range r.Ranges {
		forks[rg.Fork] = true
		if !rg.From.Equal(rg.To) {
			inside := func(at time.Time) bool { return !at.Before(rg.From) && at.Before(rg.To) }
			assert.False(t, inside(beforeOverwrite) && rg.Fork == last.Backup.ForkGUID, "an instant of the old fork is not in a range of the new one")
			assert.False(t, inside(afterOverwrite) && rg.Fork != last.Backup.ForkGUID, "an instant of the new fork is not in a range of the old one")
		}
	}
	assert.Len(t, forks, 2, "ranges of two forks: %s", out)
}
