package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recordFixture struct {
	t     *testing.T
	ctx   context.Context
	mem   *MemStore
	repo  *Repository
	sales string // item ids
	hr    string
	at    time.Time
}

func newRecordFixture(t *testing.T) *recordFixture {
	f := &recordFixture{t: t, ctx: context.Background(), mem: NewMemStore(), sales: ItemID("SQLVM1", "Sales"), hr: ItemID("SQLVM1", "HR"),
		at: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	f.repo = NewRepository(f.mem, nil).WithKeys(Keys{testKey(t, 7)})
	for _, it := range []*ProtectedItem{
		{ItemID: f.sales, VM: "SQLVM1", Instance: "SQLVM1", Database: "Sales", Policy: "daily", State: ItemProtected, CreatedAt: f.at, UpdatedAt: f.at},
		{ItemID: f.hr, VM: "SQLVM1", Instance: "SQLVM1", Database: "HR", Policy: "weekly", State: ItemStoppedDelete, CreatedAt: f.at, UpdatedAt: f.at},
	} {
		require.NoError(t, f.repo.PutItem(f.ctx, it))
	}
	require.NoError(t, f.repo.PutPolicy(f.ctx, "daily", []byte(`{"name": "daily", "retention": {"daily": {"days": 30}}}`)))
	return f
}

func (f *recordFixture) get(blob string) []byte {
	f.t.Helper()
	data, err := f.mem.Get(f.ctx, blob)
	require.NoError(f.t, err)
	return data
}

func (f *recordFixture) put(blob string, data []byte) {
	f.t.Helper()
	require.NoError(f.t, f.mem.Put(f.ctx, blob, data, PutOptions{}))
}

// edit changes the stored item record of Sales, keeping its envelope (key id and MAC).
func (f *recordFixture) edit(old, new string) {
	f.t.Helper()
	data := f.get(ItemBlob(f.sales))
	require.Contains(f.t, string(data), old)
	f.put(ItemBlob(f.sales), bytes.Replace(data, []byte(old), []byte(new), 1))
}

// Item records are written in an authenticated envelope under the active key, and read back
// verified.
func TestItemRecordsAndPoliciesAreAuthenticated(t *testing.T) {
	f := newRecordFixture(t)
	data := f.get(ItemBlob(f.sales))
	var env recordEnvelope
	require.NoError(t, json.Unmarshal(data, &env))
	assert.Equal(t, RecordEnvelopeSchema, env.Schema)
	assert.Equal(t, testKey(t, 7).ID(), env.KeyID, "sealed with the keyring's active key, its id recorded")
	it, err := f.repo.Item(f.ctx, f.sales)
	require.NoError(t, err)
	assert.Equal(t, "Sales", it.Database)
	assert.Empty(t, it.Unauthenticated)
	doc, err := f.repo.Policy(f.ctx, "daily")
	require.NoError(t, err)
	assert.JSONEq(t, `{"name": "daily", "retention": {"daily": {"days": 30}}}`, string(doc))

	// Not JSON (a document written by hand) is carried as text, authenticated all the same.
	require.NoError(t, f.repo.PutPolicy(f.ctx, "broken", []byte(`{"name": "broken",`)))
	doc, err = f.repo.Policy(f.ctx, "broken")
	require.NoError(t, err)
	assert.Equal(t, `{"name": "broken",`, string(doc))

	// Without keys nothing is written: an item record cannot be left unauthenticated.
	err = NewRepository(f.mem, nil).PutItem(f.ctx, it)
	assert.ErrorIs(t, err, ErrNoKey)
	err = NewRepository(f.mem, nil).PutPolicy(f.ctx, "daily", doc)
	assert.ErrorIs(t, err, ErrNoKey)
}

// Every change someone without the key can make to an item record is refused by Item (what
// retention, StopProtection and the overwrite check read), by name; the views get it flagged.
func TestTamperedItemRecordsAreRefused(t *testing.T) {
	for name, tamper := range map[string]func(f *recordFixture){
		"state to stopped-delete": func(f *recordFixture) { f.edit(`"state": "protected"`, `"state": "stopped-delete"`) },
		"soft-delete time moved back": func(f *recordFixture) {
			f.edit(`"updatedAt": "2026-11-26T09:00:00Z"`, `"updatedAt": "2025-01-01T00:00:00Z"`)
		},
		"policy (retention) changed": func(f *recordFixture) { f.edit(`"policy": "daily"`, `"policy": "weekly"`) },
		"protection tag changed": func(f *recordFixture) {
			f.edit(`"updatedAt": "2026-11-26T09:00:00Z"`, `"updatedAt": "2026-11-26T09:00:01Z"`)
		},
		"records of two items swapped": func(f *recordFixture) {
			sales, hr := f.get(ItemBlob(f.sales)), f.get(ItemBlob(f.hr))
			f.put(ItemBlob(f.sales), hr)
			f.put(ItemBlob(f.hr), sales)
		},
		"envelope stripped": func(f *recordFixture) {
			var env recordEnvelope
			require.NoError(t, json.Unmarshal(f.get(ItemBlob(f.sales)), &env))
			f.put(ItemBlob(f.sales), env.Record)
		},
		"MAC replaced": func(f *recordFixture) {
			var env recordEnvelope
			require.NoError(t, json.Unmarshal(f.get(ItemBlob(f.sales)), &env))
			f.edit(env.MAC, "00"+env.MAC[2:])
		},
		"sealed with another key": func(f *recordFixture) {
			it, err := f.repo.Item(f.ctx, f.sales)
			require.NoError(t, err)
			it.State = ItemStoppedDelete
			require.NoError(t, NewRepository(f.mem, nil).WithKeys(Keys{testKey(t, 9)}).PutItem(f.ctx, it))
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newRecordFixture(t)
			tamper(f)
			_, err := f.repo.Item(f.ctx, f.sales)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrUnauthenticated, "%v", err)
			assert.Contains(t, err.Error(), ItemBlob(f.sales))
			it, err := f.repo.ItemUnverified(f.ctx, f.sales)
			require.NoError(t, err, "a view reads it")
			assert.NotEmpty(t, it.Unauthenticated, "flagged")
			items, err := f.repo.Items(f.ctx)
			require.NoError(t, err)
			flagged := 0
			for _, it := range items {
				if it.Unauthenticated != "" {
					flagged++
				}
			}
			assert.Positive(t, flagged, "the listing flags it")
		})
	}
}

func TestTamperedPoliciesAreRefused(t *testing.T) {
	for name, tamper := range map[string]func(f *recordFixture){
		"retention shortened": func(f *recordFixture) {
			data := f.get(PolicyBlob("daily"))
			f.put(PolicyBlob("daily"), bytes.Replace(data, []byte(`"days": 30`), []byte(`"days": 1`), 1))
		},
		"envelope stripped": func(f *recordFixture) {
			f.put(PolicyBlob("daily"), []byte(`{"name": "daily", "retention": {"daily": {"days": 1}}}`))
		},
		"copied from another policy": func(f *recordFixture) {
			require.NoError(t, f.repo.PutPolicy(f.ctx, "short", []byte(`{"name": "daily", "retention": {"daily": {"days": 1}}}`)))
			f.put(PolicyBlob("daily"), f.get(PolicyBlob("short")))
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newRecordFixture(t)
			tamper(f)
			_, err := f.repo.Policy(f.ctx, "daily")
			assert.ErrorIs(t, err, ErrUnauthenticated, "%v", err)
			doc, auth, err := f.repo.PolicyUnverified(f.ctx, "daily")
			require.NoError(t, err)
			assert.Error(t, auth)
			assert.Contains(t, string(doc), `"days": 1`, "a view sees what is stored")
		})
	}
}

// vault upgrade authenticates legacy item records and policies (exact bytes kept), refuses
// records whose envelope fails, writes nothing in a dry run, and is idempotent.
func TestUpgradeAuthenticatesLegacyItemRecordsAndPolicies(t *testing.T) {
	f := newRecordFixture(t)
	legacyItem := []byte(`{"schema": "sqlvault.item/v1", "itemId": "` + f.sales + `", "vm": "SQLVM1", "instance": "SQLVM1", "database": "Sales",
  "policy": "daily", "state": "protected", "createdAt": "2026-11-26T09:00:00Z", "updatedAt": "2026-11-26T09:00:00Z"}`)
	f.put(ItemBlob(f.sales), legacyItem)
	legacyPolicy := []byte(`{"name": "daily", "retention": {"daily": {"days": 30}}}`)
	f.put(PolicyBlob("daily"), legacyPolicy)
	// HR's record was changed by someone without the key: never re-sealed.
	f.put(ItemBlob(f.hr), bytes.Replace(f.get(ItemBlob(f.hr)), []byte(`"weekly"`), []byte(`"yearly"`), 1))
	// A legacy record moved from another item.
	other := ItemID("SQLVM1", "Other")
	f.put(ItemBlob(other), legacyItem)

	_, err := f.repo.Item(f.ctx, f.sales)
	assert.ErrorIs(t, err, ErrLegacyRecord)
	before := etags(t, f.mem)
	rep, err := f.repo.Upgrade(f.ctx, UpgradeOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, before, etags(t, f.mem), "a dry run writes nothing")
	assert.Equal(t, 1, rep.CountKind(UpgradeKindItem, UpgradeAuthenticated))
	assert.Equal(t, 1, rep.CountKind(UpgradeKindPolicy, UpgradeAuthenticated))

	rep, err = f.repo.Upgrade(f.ctx, UpgradeOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.CountKind(UpgradeKindItem, UpgradeAuthenticated), rep.String())
	assert.Equal(t, 2, rep.CountKind(UpgradeKindItem, UpgradeRefused), rep.String())
	assert.Equal(t, 1, rep.CountKind(UpgradeKindPolicy, UpgradeAuthenticated))
	assert.Contains(t, rep.String(), "item records: 1 authenticated")
	for _, e := range rep.Entries {
		if e.Kind == UpgradeKindItem && e.ItemID == other {
			assert.Equal(t, UpgradeRefused, e.Outcome)
			assert.Contains(t, e.Reason, "holds item "+f.sales)
		}
	}
	it, err := f.repo.Item(f.ctx, f.sales)
	require.NoError(t, err)
	assert.Equal(t, ItemProtected, it.State)
	var env recordEnvelope
	require.NoError(t, json.Unmarshal(f.get(ItemBlob(f.sales)), &env))
	assert.Equal(t, string(legacyItem), string(env.Record), "the exact bytes are kept")
	_, err = f.repo.Policy(f.ctx, "daily")
	require.NoError(t, err)
	_, err = f.repo.Item(f.ctx, f.hr)
	assert.ErrorIs(t, err, ErrRecordUnauthenticated, "a tampered record stays refused")

	after := etags(t, f.mem)
	rep, err = f.repo.Upgrade(f.ctx, UpgradeOptions{})
	require.NoError(t, err)
	assert.Equal(t, after, etags(t, f.mem), "a second run writes nothing")
	assert.Equal(t, 0, rep.CountKind(UpgradeKindItem, UpgradeAuthenticated))
	assert.Equal(t, 1, rep.CountKind(UpgradeKindItem, UpgradeAlready))
	assert.Equal(t, 1, rep.CountKind(UpgradeKindPolicy, UpgradeAlready))
}

// Auto-protect instance records are authenticated too: a planted or stripped one is listed
// flagged (discovery ignores it), and vault upgrade authenticates a legacy one.
func TestInstanceRecordsAreAuthenticated(t *testing.T) {
	f := newRecordFixture(t)
	require.NoError(t, f.repo.PutInstance(f.ctx, &InstanceRecord{VM: "SQLVM1", Instance: "SQLVM1", Policy: "daily", AutoProtect: true, UpdatedAt: f.at}))
	recs, err := f.repo.Instances(f.ctx)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Empty(t, recs[0].Unauthenticated)

	legacy := []byte(`{"schema": "sqlvault.instance/v1", "vm": "SQLVM2", "instance": "SQLVM2", "policy": "daily", "autoProtect": true, "updatedAt": "2026-11-26T09:00:00Z"}`)
	f.put(InstanceBlob("SQLVM2"), legacy)
	recs, err = f.repo.Instances(f.ctx)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	flagged := map[string]bool{}
	for _, r := range recs {
		flagged[r.Instance] = r.Unauthenticated != ""
	}
	assert.Equal(t, map[string]bool{"SQLVM1": false, "SQLVM2": true}, flagged)

	rep, err := f.repo.Upgrade(f.ctx, UpgradeOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.CountKind(UpgradeKindInstance, UpgradeAuthenticated), rep.String())
	assert.Equal(t, 1, rep.CountKind(UpgradeKindInstance, UpgradeAlready))
	recs, err = f.repo.Instances(f.ctx)
	require.NoError(t, err)
	for _, r := range recs {
		assert.Empty(t, r.Unauthenticated, r.Instance)
	}
}
