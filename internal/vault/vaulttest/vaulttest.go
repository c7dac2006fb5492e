// Package vaulttest writes vault objects for the tests of the packages that read the vault
// (the RPO watchdog, the per-item metrics): one way to lay a recovery point down, so the
// readers' tests cannot drift from each other.
package vaulttest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// PutPoint stores a point of database db on instance SQLVM1 — its manifest with its listing
// summary as blob metadata, as a commit writes it (unauthenticated: these readers report and
// never act, so they take summaries as listed) — that finished at finish, with the LSNs given.
func PutPoint(t testing.TB, s vault.Store, db, typ string, finish time.Time, first, last, ckpt, dbBackup string) {
	t.Helper()
	putPoint(t, s, nil, db, typ, finish, first, last, ckpt, dbBackup)
}

// PutSealedPoint is PutPoint as a commit with key writes it: the manifest in its
// authenticated envelope, its summary with its MAC. It returns the point's id.
func PutSealedPoint(t testing.TB, s vault.Store, key *blockcrypt.Key, db, typ string, finish time.Time, first, last, ckpt, dbBackup string) string {
	t.Helper()
	return putPoint(t, s, key, db, typ, finish, first, last, ckpt, dbBackup)
}

func putPoint(t testing.TB, s vault.Store, key *blockcrypt.Key, db, typ string, finish time.Time, first, last, ckpt, dbBackup string) string {
	t.Helper()
	item := vault.ItemID("SQLVM1", db)
	m := &vault.Manifest{Schema: vault.ManifestSchema, ItemID: item, PointID: vault.NewPointID(finish, typ, "a1")}
	m.Database.Name, m.Database.GUID, m.Database.FamilyGUID = db, "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	m.Server.Instance = "SQLVM1"
	m.Backup.Type = typ
	m.Backup.StartTime, m.Backup.FinishTime = finish.Add(-time.Minute), finish
	m.Backup.FirstLSN, m.Backup.LastLSN, m.Backup.CheckpointLSN, m.Backup.DatabaseBackupLSN = vault.LSN(first), vault.LSN(last), vault.LSN(ckpt), vault.LSN(dbBackup)
	m.CreatedAt = finish
	m.Encryption.Algorithm, m.Encryption.KeyID, m.Encryption.Compression = vault.AlgorithmAES256GCM, "k1", vault.CompressionZstd
	if key != nil {
		m.Encryption.KeyID = key.ID()
	}
	blob := vault.DataBlob(item, m.PointID, 1, 1)
	m.Stripes = []vault.StripeInfo{{Blob: blob, Index: vault.IndexBlob(blob), IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)}}
	require.NoError(t, m.Validate())
	data, err := json.Marshal(m)
	require.NoError(t, err)
	md := vault.SummaryMetadata(m)
	if key != nil {
		data, md, err = vault.SealedManifest(key, m)
		require.NoError(t, err)
	}
	require.NoError(t, s.Put(context.Background(), vault.ManifestBlob(item, m.PointID), data, vault.PutOptions{Metadata: md}))
	return m.PointID
}

// Keys is a fixed vault key for tests, as a repository's keyring (Repository.WithKeys):
// item records and policies are written authenticated, so a repository that writes them
// needs one.
func Keys() vault.Keys {
	k, err := blockcrypt.NewKey([]byte("vaulttest fixed key: 32 bytes ok"))
	if err != nil {
		panic(err)
	}
	return vault.Keys{k}
}
