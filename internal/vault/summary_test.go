package vault

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// summaryPoints commits one point of every kind the summary must carry: a full, a
// copy-only full, a differential, a log, and an on-demand full with its own retention (set
// in another time zone) whose backup set GUID needs escaping, and no database backup LSN.
func summaryPoints(t *testing.T, f *fixture) []*Manifest {
	ctx := ctxT(t)
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var out []*Manifest
	add := func(at time.Duration, typ, suffix string, mod func(*Manifest)) {
		p := NewPointID(base.Add(at), typ, suffix)
		info := f.writeStripe(t, DataBlob(f.item, p, 1, 0), pages(1, 3), true)
		m := f.manifest(p, base.Add(at+time.Minute+123456789), info)
		if mod != nil {
			mod(m)
		}
		require.NoError(t, f.repo.CommitManifest(ctx, m))
		out = append(out, m)
	}
	add(0, BackupFull, "full", nil)
	add(time.Hour, BackupFull, "copy", func(m *Manifest) { m.Backup.CopyOnly = true })
	add(2*time.Hour, BackupDifferential, "diff", func(m *Manifest) {
		m.Backup.DifferentialBaseGUID = "0e0a3c6e-0000-4000-8000-00000000000d"
	})
	add(3*time.Hour, BackupLog, "log", func(m *Manifest) {
		m.Backup.FirstLSN, m.Backup.LastLSN, m.Backup.CheckpointLSN = "37000000012300001", "37000000019900001", "37000000015500001"
	})
	add(4*time.Hour, BackupFull, "ondemand", func(m *Manifest) {
		until := time.Date(2027, 1, 31, 23, 59, 59, 999, time.FixedZone("CET", 3600))
		m.RetainUntil = &until
		m.Backup.BackupSetGUID = "odd & = % + ; ünïcode guid"
		m.Backup.DatabaseBackupLSN = ""
		m.Database.FamilyGUID = ""
	})
	add(5*time.Hour, BackupLog, "forked", func(m *Manifest) {
		m.Backup.FirstLSN, m.Backup.LastLSN, m.Backup.CheckpointLSN = "37000000019900001", "37000000029900001", "37000000025500001"
		m.Backup.FirstForkGUID, m.Backup.ForkGUID = "aaaa0000-0000-4000-8000-000000000001", "bbbb0000-0000-4000-8000-000000000002"
		m.Backup.ForkPointLSN = "37000000019900001"
		fork := time.Date(2026, 11, 26, 13, 30, 0, 5, time.FixedZone("CET", 3600))
		m.Backup.ForkTime = &fork
	})
	add(6*time.Hour, BackupLog, "eastern", func(m *Manifest) {
		m.Backup.FirstLSN, m.Backup.LastLSN, m.Backup.CheckpointLSN = "37000000029900001", "37000000039900001", "37000000035500001"
		off := -300 // a server on New York time in winter
		m.Backup.ServerUTCOffsetMinutes = &off
	})
	return out
}

func TestSummaryRoundTripEveryType(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	ms := summaryPoints(t, f)

	cc := &CountingStore{Store: f.store}
	got, err := NewRepository(cc, nil).WithKeys(Keys{f.key}).ListPointSummaries(ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, int64(1), cc.Lists.Load(), "one listing")
	assert.Equal(t, int64(0), cc.Gets.Load(), "no manifest read: every summary came with the listing")
	require.Len(t, got, len(ms))
	got = authIs(t, AuthOK, got)
	for i, m := range ms {
		want := SummaryOf(m)
		assert.Equal(t, want, got[i], "point %s", m.PointID)
		stored, err := f.repo.Manifest(ctx, f.item, m.PointID)
		require.NoError(t, err)
		assert.Equal(t, SummaryOf(stored), got[i], "the summary says what the stored manifest says (%s)", m.PointID)
		assert.Equal(t, SummaryOf(stored).Digest(), got[i].Digest())
	}
	assert.True(t, got[1].CopyOnly)
	assert.False(t, got[0].CopyOnly)
	assert.Equal(t, LSN("37000000012300001"), got[2].DifferentialBaseLSN)
	assert.Equal(t, "0e0a3c6e-0000-4000-8000-00000000000d", got[2].DifferentialBaseGUID)
	assert.Equal(t, LSN("37000000019900001"), got[3].LastLSN)
	require.NotNil(t, got[4].RetainUntil)
	assert.True(t, ms[4].RetainUntil.Equal(*got[4].RetainUntil))
	assert.Equal(t, "odd & = % + ; ünïcode guid", got[4].BackupSetGUID)
	assert.Equal(t, LSN(""), got[4].DatabaseBackupLSN)
	assert.Nil(t, got[0].RetainUntil)
	assert.Equal(t, "aaaa0000-0000-4000-8000-000000000001", got[5].FirstForkGUID)
	assert.Equal(t, "bbbb0000-0000-4000-8000-000000000002", got[5].ForkGUID)
	assert.Equal(t, LSN("37000000019900001"), got[5].ForkPointLSN)
	require.NotNil(t, got[5].ForkTime)
	assert.True(t, ms[5].Backup.ForkTime.Equal(*got[5].ForkTime))
	assert.Equal(t, time.UTC, got[5].ForkTime.Location())
	assert.Equal(t, "", got[0].FirstForkGUID)
	require.NotNil(t, got[6].ServerUTCOffsetMinutes)
	assert.Equal(t, -300, *got[6].ServerUTCOffsetMinutes, "the server's offset travels in the summary")
	assert.Nil(t, got[0].ServerUTCOffsetMinutes)
	for i, m := range ms {
		assert.Equal(t, SummaryOf(m), got[i], "summary %d is the manifest's", i)
	}
	assert.Equal(t, 123456789, got[0].CreatedAt.Nanosecond(), "times keep their nanoseconds")

	// What is stored: the summary, versioned, header-safe, and the data key's id beside it.
	require.NoError(t, f.store.List(ctx, PointsPrefix(f.item), func(b BlobInfo) error {
		require.Len(t, b.Metadata, 3, b.Name) // the summary, its MAC and the data key's id
		assert.Equal(t, f.key.ID(), b.Metadata[KeyIDMetadataKey])
		assert.True(t, strings.HasPrefix(b.Metadata[SummaryAuthMetadataKey], "v1:"+f.key.ID()+":"))
		v := b.Metadata[SummaryMetadataKey]
		assert.True(t, strings.HasPrefix(v, "v3:"), v)
		assert.NoError(t, CheckMetadata(b.Metadata))
		assert.Less(t, len(v), 1024, "a summary is far below Azure's 8 KiB")
		return nil
	}))
}

// authIs asserts that every summary is authenticated as want, and returns them with Auth
// cleared, to compare with SummaryOf (which knows nothing of authentication).
func authIs(t *testing.T, want Auth, got []PointSummary) []PointSummary {
	t.Helper()
	out := slices.Clone(got)
	for i := range out {
		assert.Equal(t, want, out[i].Auth, "%s is %s", out[i].PointID, out[i].Auth)
		out[i].Auth = AuthUnchecked
	}
	return out
}

// putOld writes m's manifest as a build before summaries did: no metadata.
func putOld(t *testing.T, s Store, m *Manifest, md map[string]string) {
	data, err := encodeManifest(m)
	require.NoError(t, err)
	require.NoError(t, s.Put(context.Background(), ManifestBlob(m.ItemID, m.PointID), data, PutOptions{Metadata: md}))
}

func TestSummaryFallsBackToManifests(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	kinds := []string{BackupFull, BackupLog, BackupDifferential, BackupLog, BackupLog, BackupFull, BackupLog}
	var withMeta, old, future int
	for i, typ := range kinds {
		p := NewPointID(base.Add(time.Duration(i)*15*time.Minute), typ, "p"+string(rune('a'+i)))
		m := f.manifest(p, base.Add(time.Duration(i)*15*time.Minute+time.Minute), StripeInfo{
			Blob: DataBlob(f.item, p, 1, 0), Index: IndexBlob(DataBlob(f.item, p, 1, 0)),
			IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)})
		switch i % 3 {
		case 0:
			putOld(t, f.store, m, SummaryMetadata(m))
			withMeta++
		case 1:
			putOld(t, f.store, m, nil) // written before summaries existed
			old++
		case 2:
			// A later build's format: this build does not read it and reads the manifest.
			putOld(t, f.store, m, map[string]string{SummaryMetadataKey: "v9:whatever=it&may=be", "other": "x"})
			future++
		}
	}
	// Two points of the same second, committed in the other order: creation time decides.
	same := base.Add(5 * time.Hour)
	for i, suffix := range []string{"zz", "aa"} {
		p := NewPointID(same, BackupLog, suffix)
		m := f.manifest(p, same.Add(time.Duration(i+1)*time.Minute), StripeInfo{
			Blob: DataBlob(f.item, p, 1, 0), Index: IndexBlob(DataBlob(f.item, p, 1, 0)),
			IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)})
		putOld(t, f.store, m, SummaryMetadata(m))
		withMeta++
	}

	cc := &CountingStore{Store: f.store}
	repo := NewRepository(cc, nil).WithKeys(Keys{f.key})
	got, err := repo.ListPointSummaries(ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, int64(1), cc.Lists.Load())
	assert.Equal(t, int64(old+future), cc.Gets.Load(), "only manifests without a readable summary are read")

	got = authIs(t, AuthLegacy, got) // written by putOld: as an older build did
	ms, err := repo.ListPoints(ctx, f.item)
	require.NoError(t, err)
	require.Len(t, got, len(ms))
	for i, m := range ms {
		assert.Equal(t, SummaryOf(m), got[i], "same points, same order as ListPoints (%d)", i)
	}
	assert.True(t, strings.HasSuffix(got[len(got)-2].PointID, "-zz"), "same second: the earlier created first")
	assert.Equal(t, withMeta+old+future, len(got))

	empty, err := repo.ListPointSummaries(ctx, ItemID("X", "Y"))
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func TestSummaryThatDoesNotDecodeFailsTheCall(t *testing.T) {
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		edit func(v string) string
		want string
	}{
		{"not a query", func(string) string { return "v1:%zz" }, "not a query string"},
		{"unknown key", func(v string) string { return v + "&colour=blue" }, `unknown key "colour"`},
		{"another point", func(v string) string {
			return strings.Replace(v, "pointId=20261126T080001Z-log-p1", "pointId=20261126T080001Z-log-p2", 1)
		}, "summarizes point"},
		{"bad LSN", func(v string) string { return strings.Replace(v, "lastLsn=", "lastLsn=0", 1) }, "lastLsn"},
		{"type", func(v string) string { return strings.Replace(v, "type=log", "type=full", 1) }, `type says "full"`},
		{"missing time", func(v string) string { return strings.Replace(v, "startTime=", "startTimeX=", 1) }, "startTimeX"},
		{"empty value", func(v string) string { return v + "&familyGuid=" }, "familyGuid"},
		{"copy-only", func(v string) string { return v + "&copyOnly=yes" }, "copyOnly"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := ctxT(t)
			for i, suffix := range []string{"p0", "p1", "p3"} {
				p := NewPointID(base.Add(time.Duration(i)*time.Second), BackupLog, suffix)
				m := f.manifest(p, base.Add(time.Minute), StripeInfo{Blob: DataBlob(f.item, p, 1, 0),
					Index: IndexBlob(DataBlob(f.item, p, 1, 0)), IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)})
				md := SummaryMetadata(m)
				if suffix == "p1" {
					md[SummaryMetadataKey] = c.edit(md[SummaryMetadataKey])
				}
				putOld(t, f.store, m, md)
			}
			_, err := f.repo.ListPointSummaries(ctx, f.item)
			require.ErrorIs(t, err, ErrInvalidSummary)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), "20261126T080001Z-log-p1.json", "the error names the blob")
		})
	}
}

func TestSummaryOverTheMetadataLimitIsReadFromTheManifest(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	p := NewPointID(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), BackupFull, "big")
	info := f.writeStripe(t, DataBlob(f.item, p, 1, 0), pages(1, 3), true)
	m := f.manifest(p, time.Date(2026, 11, 26, 8, 1, 0, 0, time.UTC), info)
	m.Backup.BackupSetGUID = strings.Repeat("g", MaxMetadataBytes) // msdb would never, but the rule holds
	assert.Nil(t, SummaryMetadata(m))
	require.NoError(t, f.repo.CommitManifest(ctx, m))

	cc := &CountingStore{Store: f.store}
	got, err := NewRepository(cc, nil).WithKeys(Keys{f.key}).ListPointSummaries(ctx, f.item)
	require.NoError(t, err)
	require.Len(t, got, 1)
	got = authIs(t, AuthOK, got) // from the authenticated manifest
	assert.Equal(t, SummaryOf(m), got[0])
	assert.Equal(t, int64(1), cc.Gets.Load())
}

func TestSummaryDigest(t *testing.T) {
	f := newFixture(t)
	ms := summaryPoints(t, f)
	m := ms[2]
	d := SummaryOf(m).Digest()
	assert.Regexp(t, `^v3:[0-9a-f]{32}$`, d)
	match, known := CheckSummaryDigest(m, d)
	assert.True(t, match && known)

	// A plan made by an earlier build carries v1 digests: still checked, on the v1 fields.
	d1 := SummaryOf(m).digestAs(summaryV1)
	assert.Regexp(t, `^v1:[0-9a-f]{32}$`, d1)
	match, known = CheckSummaryDigest(m, d1)
	assert.True(t, match && known)

	// A plan made by the previous build carries v2 digests: checked on the v2 fields.
	d2 := SummaryOf(m).digestAs(summaryV2)
	match, known = CheckSummaryDigest(m, d2)
	assert.True(t, match && known)

	// The server's UTC offset is a planning field (STOPAT's local time): v3 covers it.
	off := 60
	zoned := *m
	zoned.Backup.ServerUTCOffsetMinutes = &off
	match, _ = CheckSummaryDigest(&zoned, d)
	assert.False(t, match, "a changed server offset changes the digest")
	match, _ = CheckSummaryDigest(&zoned, d2)
	assert.True(t, match, "a v2 digest does not cover it")

	// The recovery forks are planning fields: a v2 digest covers them.
	forked := *m
	forked.Backup.FirstForkGUID, forked.Backup.ForkGUID = "f1", "f1"
	match, _ = CheckSummaryDigest(&forked, d)
	assert.False(t, match, "a changed recovery fork changes the digest")

	other := *m
	other.Backup.StartTime = other.Backup.StartTime.Add(time.Second)
	match, known = CheckSummaryDigest(&other, d)
	assert.True(t, known)
	assert.False(t, match, "any planning field changes the digest")

	_, known = CheckSummaryDigest(m, "v9:0123")
	assert.False(t, known, "a later version's digest is not checked by this build")

	// Fields outside the summary do not change it.
	other = *m
	other.Reason, other.Server.VM = "another reason", "vm9"
	match, _ = CheckSummaryDigest(&other, d)
	assert.True(t, match)
}

func TestCheckMetadata(t *testing.T) {
	assert.NoError(t, CheckMetadata(nil))
	assert.NoError(t, CheckMetadata(map[string]string{"a_1": "x y", "_b": ""}))
	assert.Error(t, CheckMetadata(map[string]string{"1a": "x"}))
	assert.Error(t, CheckMetadata(map[string]string{"a-b": "x"}))
	assert.Error(t, CheckMetadata(map[string]string{"a": "é"}))
	assert.Error(t, CheckMetadata(map[string]string{"a": "x\n"}))
	assert.Error(t, CheckMetadata(map[string]string{"a": " x"}))
	assert.Error(t, CheckMetadata(map[string]string{"A": "x", "a": "y"}))
	assert.Error(t, CheckMetadata(map[string]string{"a": strings.Repeat("x", MaxMetadataBytes)}))
	assert.NoError(t, CheckMetadata(map[string]string{"a": strings.Repeat("x", MaxMetadataBytes-1)}))
}

// A summary is only written when it reads back as itself; a point without start or finish
// time (msdb always has them, but Manifest.Validate does not require them) still has one.
func TestSummaryMetadataOnlyWhatReadsBack(t *testing.T) {
	f := newFixture(t)
	p := NewPointID(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), BackupLog, "t")
	m := f.manifest(p, time.Date(2026, 11, 26, 8, 1, 0, 0, time.UTC))
	m.Backup.StartTime, m.Backup.FinishTime = time.Time{}, time.Time{}
	md := SummaryMetadata(m)
	require.NotNil(t, md)
	got, ok, err := decodeSummary(f.item, p, md)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, SummaryOf(m), got)

	for name, mod := range map[string]func(*Manifest){
		"bad LSN":        func(m *Manifest) { m.Backup.FirstLSN = "x" },
		"type":           func(m *Manifest) { m.Backup.Type = BackupFull },
		"not a point id": func(m *Manifest) { m.PointID = "nodash" },
		"no createdAt":   func(m *Manifest) { m.CreatedAt = time.Time{} },
	} {
		bad := *m
		mod(&bad)
		assert.Nil(t, SummaryMetadata(&bad), name)
	}
}

// A vault written before recovery forks were recorded (v1 manifests, v1 summaries) still
// lists and plans; a v1 summary cannot carry fork keys, and a v1 manifest cannot carry fork
// fields.
func TestSummaryAndManifestV1StillRead(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	p := NewPointID(base, BackupFull, "v1")
	info := f.writeStripe(t, DataBlob(f.item, p, 1, 0), pages(1, 3), true)
	m := f.manifest(p, base.Add(time.Minute), info)
	m.Schema = ManifestSchemaV1
	require.NoError(t, m.Validate())
	v1 := map[string]string{SummaryMetadataKey: SummaryOf(m).encodeAs(summaryV1)}
	putOld(t, f.store, m, v1)

	cc := &CountingStore{Store: f.store}
	got, err := NewRepository(cc, nil).WithKeys(Keys{f.key}).ListPointSummaries(ctx, f.item)
	require.NoError(t, err)
	require.Len(t, got, 1)
	got = authIs(t, AuthLegacy, got)
	assert.Equal(t, SummaryOf(m), got[0])
	assert.Equal(t, int64(0), cc.Gets.Load(), "a v1 summary is read from the listing")
	_, err = f.repo.Manifest(ctx, f.item, p)
	require.ErrorIs(t, err, ErrLegacyManifest, "a legacy manifest is refused unless asked for")
	back, legacy, err := f.repo.ManifestOrLegacy(ctx, f.item, p)
	require.NoError(t, err)
	assert.True(t, legacy)
	assert.Equal(t, ManifestSchemaV1, back.Schema)

	withFork := strings.Replace(v1[SummaryMetadataKey], "type=", "forkGuid=x&type=", 1)
	_, _, err = decodeSummary(f.item, p, map[string]string{SummaryMetadataKey: withFork})
	assert.ErrorIs(t, err, ErrInvalidSummary)
	assert.Contains(t, err.Error(), "a v1 summary has no forkGuid")

	m.Backup.ForkGUID = "f"
	assert.ErrorIs(t, m.Validate(), ErrInvalidManifest, "a v1 manifest has no fork fields")
}

func TestManifestForkRules(t *testing.T) {
	f := newFixture(t)
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	p := NewPointID(base, BackupLog, "fork")
	m := f.manifest(p, base.Add(time.Minute), StripeInfo{Blob: DataBlob(f.item, p, 1, 0), Index: IndexBlob(DataBlob(f.item, p, 1, 0)),
		IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)})
	m.Backup.FirstLSN, m.Backup.LastLSN = "100", "200"
	m.Backup.FirstForkGUID, m.Backup.ForkGUID, m.Backup.ForkPointLSN = "f1", "f2", "100"
	require.NoError(t, m.Validate())
	for name, mod := range map[string]func(b *BackupInfo){
		"fork point outside the log": func(b *BackupInfo) { b.ForkPointLSN = "201" },
		"fork point missing":         func(b *BackupInfo) { b.ForkPointLSN = "" },
		"fork point without a fork":  func(b *BackupInfo) { b.ForkGUID = "f1" },
		"fork time without a fork":   func(b *BackupInfo) { b.ForkGUID, b.ForkPointLSN, b.ForkTime = "f1", "", &base },
		"a full that spans a fork":   func(b *BackupInfo) { b.Type = BackupFull },
	} {
		c := *m
		mod(&c.Backup)
		if c.Backup.Type == BackupFull {
			c.PointID = NewPointID(base, BackupFull, "fork")
		}
		assert.ErrorIs(t, c.Validate(), ErrInvalidManifest, name)
	}
}

// TestSummaryPoint: the domain record carries every planning field of the manifest.
func TestSummaryPoint(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 15, 30, 0, time.UTC)
	fork, until := start.Add(-time.Hour), start.Add(72*time.Hour)
	m := &Manifest{
		PointID:     "20261126T101530Z-log-abc",
		RetainUntil: &until,
		Database:    DatabaseInfo{GUID: "g-1", FamilyGUID: "fam-1"},
		Backup: BackupInfo{Type: BackupLog, CopyOnly: true, BackupSetGUID: "set-1",
			FirstLSN: "100000000000000000000001", LastLSN: "100000000000000000000009",
			CheckpointLSN: "100000000000000000000001", DatabaseBackupLSN: "5", DifferentialBaseLSN: "5",
			FirstForkGUID: "F1", ForkGUID: "F2", ForkPointLSN: "100000000000000000000003", ForkTime: &fork,
			StartTime: start, FinishTime: start.Add(time.Minute)},
	}
	assert.Equal(t, domain.Point{ID: m.PointID, Type: "log", CopyOnly: true,
		FirstLSN: "100000000000000000000001", LastLSN: "100000000000000000000009",
		CheckpointLSN: "100000000000000000000001", DatabaseBackupLSN: "5", DifferentialBaseLSN: "5",
		BackupSetGUID: "set-1", DatabaseGUID: "g-1", FamilyGUID: "fam-1",
		FirstFork: "F1", Fork: "F2", ForkPoint: "100000000000000000000003", ForkTime: &fork,
		RetainUntil: &until, Start: start, Finish: start.Add(time.Minute)}, SummaryOf(m).Point())
}
