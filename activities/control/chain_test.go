package control

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// BackupChainState reports the item's chain from one listing of its point summaries (no
// manifest read) and the bound on the newest full's age from its policy.
func TestBackupChainState(t *testing.T) {
	f := newRetentionFixture(t)
	rec := &recordingStore{Store: f.repo.Store()}
	f.repo = vault.NewRepository(rec, nil).WithKeys(vault.Keys{f.key})
	f.c.Vault = f.repo
	p := policy.Policy{Name: "weekly",
		Full:      policy.FullSchedule{Frequency: policy.FrequencyWeekly, Weekdays: []time.Weekday{time.Sunday}, TimeOfDay: "23:00", TimeZone: "UTC"},
		Log:       &policy.LogSchedule{EveryMinutes: 60},
		Retention: policy.Retention{Weekly: &policy.KeepWeekly{Weeks: 2, Weekday: time.Sunday}, LogDays: 7},
	}
	doc, err := json.Marshal(p)
	require.NoError(t, err)
	require.NoError(t, f.repo.PutPolicy(f.ctx, "weekly", doc))
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	it.Policy = "weekly"
	require.NoError(t, f.repo.PutItem(f.ctx, it))

	full := f.stream(protocol.Full, rtStart)
	_, err = f.c.CommitRecoveryPoint(f.ctx, full)
	require.NoError(t, err)
	var lastLog protocol.CommitInput
	for h := 1; h <= 3; h++ {
		lastLog = f.stream(protocol.Log, rtStart.Add(time.Duration(h)*time.Hour))
		_, err = f.c.CommitRecoveryPoint(f.ctx, lastLog)
		require.NoError(t, err)
	}
	rec.gets = nil
	got, err := f.c.BackupChainState(f.ctx, protocol.ChainStateInput{Instance: rtInstance, Database: rtDatabase})
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, f.item, got.ItemID)
	assert.Equal(t, full.PointID, got.NewestFullID)
	assert.True(t, got.NewestFullStart.Equal(rtStart))
	assert.Equal(t, full.Stream.BackupSet.DatabaseGUID, got.DatabaseGUID)
	assert.Equal(t, full.Stream.BackupSet.LastLSN, got.BaseEndLSN)
	assert.Equal(t, lastLog.Stream.BackupSet.LastLSN, got.NewestLogLastLSN)
	assert.Contains(t, got.BackupSetGUIDs, full.Stream.BackupSet.BackupSetGUID)
	assert.Equal(t, 14*24*60, got.FullMaxAgeMinutes, "two weekly intervals")
	for _, g := range rec.gets {
		assert.False(t, strings.HasPrefix(g, vault.PointsPrefix(f.item)), "no manifest is read: %s", g)
	}

	assert.Equal(t, []string{full.Stream.BackupSet.CheckpointLSN}, got.BaseCheckpointLSNs, "the one scheduled full is the one differential base")

	// An unprotected database (on-demand backups only, no item record) gets its points'
	// state without a policy bound: here no point, so no full and no base.
	none, err := f.c.BackupChainState(f.ctx, protocol.ChainStateInput{Instance: rtInstance, Database: "Unprotected"})
	require.NoError(t, err)
	require.NotNil(t, none)
	assert.Equal(t, vault.ItemID(rtInstance, "Unprotected"), none.ItemID)
	assert.Empty(t, none.NewestFullID)
	assert.Empty(t, none.BaseCheckpointLSNs)
	assert.Zero(t, none.FullMaxAgeMinutes)

	// The schedule names the item (a database in an availability group is keyed by the
	// group, which instance and database alone do not name): that item's state comes back.
	named, err := f.c.BackupChainState(f.ctx, protocol.ChainStateInput{Instance: `OTHERREPLICA`, Database: rtDatabase, ItemID: f.item})
	require.NoError(t, err)
	require.NotNil(t, named)
	assert.Equal(t, f.item, named.ItemID)
	assert.Equal(t, full.PointID, named.NewestFullID)
	_, err = f.c.BackupChainState(f.ctx, protocol.ChainStateInput{Instance: rtInstance, Database: rtDatabase, ItemID: "../x"})
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
}
