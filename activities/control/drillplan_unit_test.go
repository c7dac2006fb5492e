package control

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

// PlanDrills drills only protected items of a policy with a drill and a point to restore,
// skips the one drilled since its slot, restores on the policy's instance with the policy's VM, and never plans
// more than maxPerInstance at once there, counting what runs.
func TestPlanDrillsFromTheVault(t *testing.T) {
	ctx := context.Background()
	store := vault.NewMemStore()
	repo := vault.NewRepository(store, zap.NewNop()).WithKeys(vaulttest.Keys())
	c := &Control{Vault: repo, Log: zap.NewNop()}
	require.NoError(t, repo.PutPolicy(ctx, "drilled", []byte(`{"name": "drilled", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "retention": {"daily": {"days": 30}},
 "drill": {"every": "weekly", "pick": "newest", "instance": "DRILLVM\\SCRATCH", "vm": "DRILLVM", "maxPerInstance": 2}}`)))
	require.NoError(t, repo.PutPolicy(ctx, "plain", []byte(`{"name": "plain", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "retention": {"daily": {"days": 30}}}`)))
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, it := range []struct{ db, pol, state string }{{"A", "drilled", vault.ItemProtected}, {"B", "drilled", vault.ItemProtected},
		{"C", "drilled", vault.ItemProtected}, {"D", "drilled", vault.ItemProtected}, {"P", "plain", vault.ItemProtected},
		{"S", "drilled", vault.ItemStoppedRetain}} {
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: vault.ItemID("SQLVM1", it.db), VM: "SQLVM1", Instance: "SQLVM1",
			Database: it.db, Policy: it.pol, State: it.state, CreatedAt: now, UpdatedAt: now}))
	}
	// A, B and C have a full; E was protected a moment ago and its first full has not
	// committed: nothing to restore, so no drill (it would only fail and alert).
	require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: vault.ItemID("SQLVM1", "E"), VM: "SQLVM1", Instance: "SQLVM1",
		Database: "E", Policy: "drilled", State: vault.ItemProtected, CreatedAt: now, UpdatedAt: now}))
	for _, db := range []string{"A", "B", "C"} {
		m := *planHistory()[0]
		m.ItemID = vault.ItemID("SQLVM1", db)
		m.Database.Name = db
		blob := vault.DataBlob(m.ItemID, m.PointID, 1, 1)
		m.Stripes = []vault.StripeInfo{{Blob: blob, Index: vault.IndexBlob(blob), IndexSHA256: m.Stripes[0].IndexSHA256, Digest: m.Stripes[0].Digest}}
		putManifests(t, store, []*vault.Manifest{&m}, func(int) bool { return true })
	}
	// D was drilled a moment ago: not due again this week.
	require.NoError(t, repo.PutDrill(ctx, &protocol.DrillRecord{ItemID: vault.ItemID("SQLVM1", "D"), StartedAt: now.Add(-time.Minute),
		Outcome: protocol.DrillPassed}))

	res, err := c.PlanDrills(ctx, protocol.PlanDrillsInput{Now: now})
	require.NoError(t, err)
	assert.Equal(t, 4, res.Items, "A, B, C, D: protected, with a drill and a point (E has none yet)")
	require.Len(t, res.Drills, 2, "maxPerInstance on DRILLVM\\SCRATCH")
	for _, d := range res.Drills {
		assert.Equal(t, `DRILLVM\SCRATCH`, d.Target)
		assert.Equal(t, `DRILLVM\SCRATCH`, d.Input.TargetInstance)
		assert.Equal(t, "DRILLVM", d.Input.TargetVM)
		assert.Equal(t, protocol.DrillPickNewest, d.Input.Pick)
		assert.NotEqual(t, "D", d.Input.Database)
		require.NoError(t, d.Input.Validate())
	}
	res, err = c.PlanDrills(ctx, protocol.PlanDrillsInput{Now: now, Running: map[string]int{`DRILLVM\SCRATCH`: 2}})
	require.NoError(t, err)
	assert.Empty(t, res.Drills, "the instance is busy")
	res, err = c.PlanDrills(ctx, protocol.PlanDrillsInput{Now: now, Running: map[string]int{`DRILLVM\SCRATCH`: 1}})
	require.NoError(t, err)
	assert.Len(t, res.Drills, 1)
}
