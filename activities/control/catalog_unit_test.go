package control

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// unitWeeklyPolicy has a schedule for each backup kind: full on Sunday, differential on the
// other days, log every 15 minutes.
const unitWeeklyPolicy = `{
	"name": "silver",
	"full": {"frequency": "weekly", "weekdays": [0], "timeOfDay": "01:00", "timeZone": "Europe/Paris"},
	"differential": {"weekdays": [1,2,3,4,5,6], "timeOfDay": "19:30"},
	"log": {"everyMinutes": 15},
	"retention": {"weekly": {"weeks": 8, "weekday": 0}, "differentialDays": 30, "logDays": 30},
	"compression": true
}`

// LoadPolicy returns the vault's policy, validated, as the workflows receive it.
func TestLoadPolicyUnitReturnsTheStoredPolicy(t *testing.T) {
	u := newUnitControl(t)
	require.NoError(t, u.repo.PutPolicy(context.Background(), "silver", []byte(unitWeeklyPolicy)))
	var p map[string]any
	require.NoError(t, u.run(t, &p, protocol.ActivityLoadPolicy, "silver"))
	assert.Equal(t, "silver", p["name"])
	assert.Equal(t, true, p["compression"])
	assert.Equal(t, map[string]any{"everyMinutes": float64(15)}, p["log"])
	full, _ := p["full"].(map[string]any)
	assert.Equal(t, "Europe/Paris", full["timeZone"])
}

// Each way a policy can be unusable has its named error, saying what to do.
func TestLoadPolicyUnitNamedErrors(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	require.NoError(t, u.repo.PutPolicy(ctx, "silver", []byte(unitWeeklyPolicy)))
	require.NoError(t, u.repo.PutPolicy(ctx, "broken", []byte(`{"name": "broken",`)))
	require.NoError(t, u.repo.PutPolicy(ctx, "toofast", []byte(`{"name": "toofast",
		"full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"}, "log": {"everyMinutes": 5},
		"retention": {"daily": {"days": 7}, "logDays": 7}}`)))

	err := u.run(t, nil, protocol.ActivityLoadPolicy, "gold")
	require.Error(t, err)
	assert.Equal(t, protocol.ErrPolicyNotFound, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), `no policy named "gold"`)
	assert.Contains(t, err.Error(), "silver", "the message lists the policies there are")
	assert.Contains(t, err.Error(), "sqlvault policy create")

	err = u.run(t, nil, protocol.ActivityLoadPolicy, "broken")
	assert.Equal(t, protocol.ErrInvalidPolicy, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "not valid JSON")

	err = u.run(t, nil, protocol.ActivityLoadPolicy, "toofast")
	assert.Equal(t, protocol.ErrInvalidPolicy, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "log.everyMinutes: 5 is below the minimum of 15")
}

func unitItem(instance, db, state string, types ...string) *vault.ProtectedItem {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return &vault.ProtectedItem{ItemID: vault.ItemID(instance, db), VM: instance, Instance: instance, Database: db, Policy: "silver",
		State: state, BackupTypes: types, CreatedAt: t0, UpdatedAt: t0}
}

// RegisterItems writes one protected record per database, with what discovery said it
// allows, and returns their ids in the order given.
func TestRegisterItemsUnitRecordsTheItems(t *testing.T) {
	u := newUnitControl(t)
	in := protocol.RegisterItemsInput{VM: "SQLVM1", Instance: "SQLVM1", Policy: "silver", Databases: []protocol.DatabaseInfo{
		{Name: "Sales", ItemID: vault.ItemID("SQLVM1", "Sales"), BackupTypes: []protocol.BackupType{protocol.Full, protocol.Differential, protocol.Log}},
		{Name: "Archive", ItemID: vault.ItemID("SQLVM1", "Archive"), BackupTypes: []protocol.BackupType{protocol.Full, protocol.CopyOnlyFull}},
	}}
	var ids []string
	require.NoError(t, u.run(t, &ids, protocol.ActivityRegisterItems, in))
	assert.Equal(t, []string{vault.ItemID("SQLVM1", "Sales"), vault.ItemID("SQLVM1", "Archive")}, ids)

	it, err := u.repo.Item(context.Background(), ids[1])
	require.NoError(t, err)
	w := unitWire(t, it)
	assert.Equal(t, "protected", w["state"])
	assert.Equal(t, "Archive", w["database"])
	assert.Equal(t, "SQLVM1", w["vm"])
	assert.Equal(t, "silver", w["policy"])
	assert.Equal(t, []any{"full", "copy-only-full"}, w["backupTypes"])
	assert.True(t, u.now.Equal(it.CreatedAt))
}

// SetItemState: an item that is not in the vault is NotProtected; a change is written with
// the time of the change.
func TestSetItemStateUnit(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	err := u.run(t, nil, protocol.ActivitySetItemState, protocol.SetItemStateInput{ItemID: vault.ItemID("SQLVM1", "Nope"), State: "stopped-retain"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrNotProtected, protocol.ErrorType(err))
	_, err = u.repo.Item(ctx, vault.ItemID("SQLVM1", "Nope"))
	assert.ErrorIs(t, err, vault.ErrItemNotFound, "no record is created for it")

	it := unitItem("SQLVM1", "Sales", "stopped-retain", "full", "log")
	require.NoError(t, u.repo.PutItem(ctx, it))
	require.NoError(t, u.run(t, nil, protocol.ActivitySetItemState, protocol.SetItemStateInput{ItemID: it.ItemID, State: "protected"}))
	got, err := u.repo.Item(ctx, it.ItemID)
	require.NoError(t, err)
	assert.Equal(t, "protected", got.State)
	assert.True(t, u.now.Equal(got.UpdatedAt))
	assert.True(t, it.CreatedAt.Equal(got.CreatedAt), "createdAt stays")
}

// ListItems returns every record; ListItemIDs every id, also of a record that cannot be
// read (which ListItems cannot return).
func TestListItemsAndIDsUnit(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	a, b := unitItem("SQLVM1", "Sales", "protected", "full"), unitItem("SQLVM1", "HR", "stopped-delete", "full")
	require.NoError(t, u.repo.PutItem(ctx, a))
	require.NoError(t, u.repo.PutItem(ctx, b))

	var items []map[string]any
	require.NoError(t, u.run(t, &items, protocol.ActivityListItems))
	got := map[string]string{}
	for _, it := range items {
		got[it["itemId"].(string)] = it["database"].(string) + " " + it["state"].(string)
	}
	assert.Equal(t, map[string]string{a.ItemID: "Sales protected", b.ItemID: "HR stopped-delete"}, got)

	bad := vault.ItemID("SQLVM1", "Garbled")
	require.NoError(t, u.mem.Put(ctx, vault.ItemBlob(bad), []byte("{not json"), vault.PutOptions{}))
	var ids []string
	require.NoError(t, u.run(t, &ids, protocol.ActivityListItemIDs))
	assert.ElementsMatch(t, []string{a.ItemID, b.ItemID, bad}, ids)
	assert.Error(t, u.run(t, nil, protocol.ActivityListItems), "ListItems reads every record")
}

// AutoProtection records the instance and makes the rediscovery schedule; with List it
// only lists (and with EnsureSchedule remakes a missing schedule).
func TestAutoProtectionUnit(t *testing.T) {
	u := newUnitControl(t)
	var list []protocol.AutoProtectedInstance
	require.NoError(t, u.run(t, &list, protocol.ActivityAutoProtection, protocol.AutoProtectionInput{VM: "SQLVM1", Instance: `SQLVM1\HR`, Policy: "silver"}))
	assert.Equal(t, []protocol.AutoProtectedInstance{{VM: "SQLVM1", Instance: `SQLVM1\HR`, Policy: "silver"}}, list)
	s := u.tc.schedule(protocol.RediscoverScheduleID)
	require.NotNil(t, s, "the rediscovery schedule exists")
	action := s.opts.Action.(*client.ScheduleWorkflowAction)
	assert.Equal(t, protocol.WorkflowRediscover, action.Workflow)
	assert.Equal(t, "sqlvault-control", action.TaskQueue)
	assert.Equal(t, []time.Duration{RediscoverEvery}, []time.Duration{s.opts.Spec.Intervals[0].Every})

	// Recording it again (a retry) keeps one record and one schedule.
	require.NoError(t, u.run(t, &list, protocol.ActivityAutoProtection, protocol.AutoProtectionInput{VM: "SQLVM1", Instance: `SQLVM1\HR`, Policy: "silver"}))
	assert.Len(t, list, 1)

	// Listing does not create the schedule; listing for Reconcile does.
	require.NoError(t, u.tc.ScheduleClient().GetHandle(context.Background(), protocol.RediscoverScheduleID).Delete(context.Background()))
	require.NoError(t, u.run(t, &list, protocol.ActivityAutoProtection, protocol.AutoProtectionInput{List: true}))
	assert.Len(t, list, 1)
	assert.Nil(t, u.tc.schedule(protocol.RediscoverScheduleID))
	require.NoError(t, u.run(t, &list, protocol.ActivityAutoProtection, protocol.AutoProtectionInput{List: true, EnsureSchedule: true}))
	assert.NotNil(t, u.tc.schedule(protocol.RediscoverScheduleID))
}
