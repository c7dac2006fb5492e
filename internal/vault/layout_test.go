package vault

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestItemID(t *testing.T) {
	// Pinned: item ids name folders in existing vaults, so the derivation must never change.
	// sha256("VM1\SQL2022" + "\x00" + "Sales")[:12 bytes].
	id := ItemID(`VM1\SQL2022`, "Sales")
	assert.Equal(t, "ib4776adf0d5c6e10df677997", id)
	assert.True(t, ValidItemID(id))
	assert.Equal(t, id, ItemID(`vm1\sql2022`, "Sales"), "instance names are case-insensitive")
	assert.NotEqual(t, id, ItemID(`VM1\SQL2022`, "sales"), "database names are taken as SQL Server spells them")
	assert.NotEqual(t, ItemID("a", "b\x00c"), ItemID("a\x00b", "c"))
	for _, db := range []string{"../../etc", "name with spaces", "Ünïcødé/数据库", "a?b#c%d", strings.Repeat("x", 128)} {
		id := ItemID("VM", db)
		assert.True(t, ValidItemID(id), db)
		assert.Equal(t, "item", parseBlobName(ItemBlob(id)).kind)
	}
}

func TestPointIDs(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 15, 30, 0, time.FixedZone("X", 3600))
	id := NewPointID(at, BackupFull, "ab12")
	assert.Equal(t, "20261126T091530Z-full-ab12", id, "UTC, second resolution")
	ts, typ, err := ParsePointID(id)
	require.NoError(t, err)
	assert.True(t, at.Equal(ts))
	assert.Equal(t, BackupFull, typ)

	random := NewPointID(at, BackupLog, "")
	assert.Regexp(t, `^20261126T091530Z-log-[0-9a-z]{8}$`, random)
	assert.NotEqual(t, random, NewPointID(at, BackupLog, ""))

	ids := []string{
		NewPointID(at.Add(time.Hour), BackupLog, "z"),
		NewPointID(at, BackupDifferential, "y"),
		NewPointID(at.Add(-time.Hour), BackupFull, "x"),
	}
	sort.Strings(ids)
	assert.Equal(t, "20261126T081530Z-full-x", ids[0], "ids sort in time order")

	assert.Panics(t, func() { NewPointID(at, "snapshot", "a") })
	assert.Panics(t, func() { NewPointID(at, BackupFull, "A/B") })
	_, _, err = ParsePointID("20261126T091530Z-full")
	assert.Error(t, err)
}

func TestBlobNames(t *testing.T) {
	item := ItemID("VM", "db")
	point := NewPointID(time.Date(2026, 11, 26, 10, 15, 30, 0, time.UTC), BackupFull, "r")
	data := DataBlob(item, point, 2, 3)
	assert.Equal(t, "v1/items/"+item+"/data/20261126T101530Z-full-r/a2-s3.bak", data)
	assert.Equal(t, "v1/items/"+item+"/data/20261126T101530Z-full-r/a2-s3.idx", IndexBlob(data))
	assert.Equal(t, "v1/items/"+item+"/points/20261126T101530Z-full-r.json", ManifestBlob(item, point))
	assert.Equal(t, "v1/items/"+item+"/item.json", ItemBlob(item))

	assert.Equal(t, blobName{itemID: item, kind: "data", pointID: point, attempt: 2, stripe: 3}, parseBlobName(data))
	assert.Equal(t, "index", parseBlobName(IndexBlob(data)).kind)
	assert.Equal(t, blobName{itemID: item, kind: "manifest", pointID: point}, parseBlobName(ManifestBlob(item, point)))
	assert.Equal(t, "", parseBlobName("v1/items/"+item+"/data/"+point+"/x.bak").kind)
	assert.Equal(t, "", parseBlobName("v2/items/"+item+"/item.json").kind)
	assert.Equal(t, "", parseBlobName("v1/items/notanid/item.json").kind)

	assert.Len(t, vaultBlockID("a"), 24)
	assert.Len(t, vaultBlockID(strings.Repeat("long client id ", 10)), 24)
	assert.NotEqual(t, vaultBlockID("a"), vaultBlockID("b"))
}

func TestLSN(t *testing.T) {
	for _, ok := range []LSN{"0", "1", "37000000012300001", "9999999999999999999999999"} {
		assert.True(t, ok.Valid(), ok)
	}
	for _, bad := range []LSN{"", "-1", "01", "1.5", "1e10", "99999999999999999999999999"} {
		assert.False(t, bad.Valid(), bad)
	}
	assert.Equal(t, -1, LSN("999").Compare("1000"))
	assert.Equal(t, 1, LSN("12345678901234567890123").Compare("9223372036854775807"))
	assert.Equal(t, 0, LSN("42").Compare("42"))
}

// TestRecordDelimiter pins what ItemIDs relies on: cut at the first recordDelimiter after
// ItemsPrefix, every name of an item's folder gives one of three folders, whatever its point,
// attempt or stripe, and only the item record gives recordFolder.
func TestRecordDelimiter(t *testing.T) {
	at := time.Date(2026, 11, 26, 23, 59, 59, 0, time.UTC)
	folders := map[string]bool{}
	for _, db := range []string{"Sales", "tttt", "数据"} {
		item := ItemID("VM1", db)
		assert.NotContains(t, item, recordDelimiter)
		record, ok := FolderOf(ItemBlob(item), ItemsPrefix, recordDelimiter)
		require.True(t, ok)
		assert.Equal(t, recordFolder(item), record)
		id, ok := itemOfRecordFolder(record)
		assert.True(t, ok)
		assert.Equal(t, item, id)
		for _, typ := range []string{BackupFull, BackupDifferential, BackupLog} {
			for _, rnd := range []string{"t", "tt0", "abc", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzt"} {
				p := NewPointID(at, typ, rnd)
				data := DataBlob(item, p, 12, 3)
				for _, name := range []string{ManifestBlob(item, p), data, IndexBlob(data)} {
					f, ok := FolderOf(name, ItemsPrefix, recordDelimiter)
					require.True(t, ok, name)
					assert.NotEqual(t, recordFolder(item), f, name)
					_, isRecord := itemOfRecordFolder(f)
					assert.False(t, isRecord, name)
					folders[strings.TrimPrefix(f, ItemPrefix(item))] = true
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"point": true, "dat": true}, folders)
	for _, f := range []string{ItemsPrefix + "x/it", ItemsPrefix + ItemID("a", "b") + "/item", ItemsPrefix + ItemID("a", "b") + "/it/"} {
		_, ok := itemOfRecordFolder(f)
		assert.False(t, ok, f)
	}
}
