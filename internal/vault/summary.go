package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/domain"

	"go.uber.org/zap"
)

// A recovery point's summary is what planning, status and chain checks need of it (type,
// LSNs, GUIDs, times), without stripes, server or encryption details. CommitManifest stores
// it as metadata of the manifest blob, in the same Put as the manifest, so one listing of an
// item's points folder (5,000 blobs a page, metadata included) gives every point's summary,
// with no Get per point. The manifest stays the record: a step that restores a point reads
// the manifest and checks it against the summary the plan was made from.
//
// Format: one metadata entry, SummaryMetadataKey = "v1:" + URL query encoding (sorted keys,
// percent-escaped values, so any string stays header-safe ASCII) of these keys, absent when
// empty: pointId, type, copyOnly ("true"), firstLsn, lastLsn, checkpointLsn,
// databaseBackupLsn, differentialBaseLsn, differentialBaseGuid, backupSetGuid, databaseGuid,
// familyGuid, startTime, finishTime, createdAt, retainUntil (times RFC 3339 with
// nanoseconds, UTC). Any change to that set of keys or their meaning is a new version; a
// build that meets a version it does not know reads the manifest instead, as it does for
// manifests written before summaries existed (no metadata).
//
// "v2:" (read; v1 is read too) adds the recovery forks: firstForkGuid,
// forkGuid, forkPointLsn and forkTime (BackupInfo's fork fields). The planner needs them to
// keep an instant on the timeline that was live at it.
//
// "v3:" (written by this build; v1 and v2 are still read) adds serverUtcOffsetMinutes
// (BackupInfo.ServerUTCOffsetMinutes, a decimal integer): planning a point-in-time restore
// turns the instant into the server's local time for STOPAT with it.

// SummaryMetadataKey is the manifest blob's metadata name that holds its summary.
const SummaryMetadataKey = "sqlvaultpoint"

// summaryV1, summaryV2 and summaryV3 are the prefixes of the summary formats this build
// reads; it writes v3.
const (
	summaryV1 = "v1:"
	summaryV2 = "v2:"
	summaryV3 = "v3:"
)

// ErrInvalidSummary: a manifest blob's summary metadata is of a version this build reads but
// does not decode, breaks the manifest rules, or names another point than its blob.
var ErrInvalidSummary = errors.New("vault: invalid recovery point summary in manifest blob metadata")

// PointSummary is a recovery point as listings see it: the manifest's fields that planning,
// status and chain checks use. SummaryOf makes one from a manifest.
type PointSummary struct {
	ItemID    string
	PointID   string
	CreatedAt time.Time
	Type      string // BackupFull, BackupDifferential or BackupLog
	CopyOnly  bool
	// LSNs as in the manifest; "" where msdb has NULL.
	FirstLSN, LastLSN, CheckpointLSN, DatabaseBackupLSN, DifferentialBaseLSN LSN
	DifferentialBaseGUID, BackupSetGUID                                      string
	DatabaseGUID, FamilyGUID                                                 string
	StartTime, FinishTime                                                    time.Time
	RetainUntil                                                              *time.Time
	// Recovery forks, as in BackupInfo ("" and nil from a v1 summary or manifest).
	FirstForkGUID, ForkGUID string
	ForkPointLSN            LSN
	ForkTime                *time.Time
	// ServerUTCOffsetMinutes as in BackupInfo (nil from a v1/v2 summary or an older manifest).
	ServerUTCOffsetMinutes *int
	// Auth is whether ListPointSummaries authenticated the summary (never part of its
	// encoding or digest). Only AuthOK may drive a restore plan or a deletion.
	Auth Auth
}

// SummaryOf takes a manifest's summary (times in UTC).
func SummaryOf(m *Manifest) PointSummary {
	b := m.Backup
	s := PointSummary{
		ItemID: m.ItemID, PointID: m.PointID, CreatedAt: m.CreatedAt.UTC(),
		Type: b.Type, CopyOnly: b.CopyOnly,
		FirstLSN: b.FirstLSN, LastLSN: b.LastLSN, CheckpointLSN: b.CheckpointLSN,
		DatabaseBackupLSN: b.DatabaseBackupLSN, DifferentialBaseLSN: b.DifferentialBaseLSN,
		DifferentialBaseGUID: b.DifferentialBaseGUID, BackupSetGUID: b.BackupSetGUID,
		DatabaseGUID: m.Database.GUID, FamilyGUID: m.Database.FamilyGUID,
		StartTime: b.StartTime.UTC(), FinishTime: b.FinishTime.UTC(),
	}
	if m.RetainUntil != nil {
		t := m.RetainUntil.UTC()
		s.RetainUntil = &t
	}
	s.FirstForkGUID, s.ForkGUID, s.ForkPointLSN = b.FirstForkGUID, b.ForkGUID, b.ForkPointLSN
	if b.ForkTime != nil {
		t := b.ForkTime.UTC()
		s.ForkTime = &t
	}
	if b.ServerUTCOffsetMinutes != nil {
		off := *b.ServerUTCOffsetMinutes
		s.ServerUTCOffsetMinutes = &off
	}
	return s
}

// encode is the metadata value this build writes (v2, with its prefix). The same summary
// always encodes to the same string.
func (s PointSummary) encode() string { return s.encodeAs(summaryV3) }

// encodeAs encodes s in format version (summaryV1 leaves the fork keys out).
func (s PointSummary) encodeAs(version string) string {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	set("pointId", s.PointID)
	set("type", s.Type)
	if s.CopyOnly {
		set("copyOnly", "true")
	}
	set("firstLsn", string(s.FirstLSN))
	set("lastLsn", string(s.LastLSN))
	set("checkpointLsn", string(s.CheckpointLSN))
	set("databaseBackupLsn", string(s.DatabaseBackupLSN))
	set("differentialBaseLsn", string(s.DifferentialBaseLSN))
	set("differentialBaseGuid", s.DifferentialBaseGUID)
	set("backupSetGuid", s.BackupSetGUID)
	set("databaseGuid", s.DatabaseGUID)
	set("familyGuid", s.FamilyGUID)
	set("startTime", ts(s.StartTime))
	set("finishTime", ts(s.FinishTime))
	set("createdAt", ts(s.CreatedAt))
	if s.RetainUntil != nil {
		set("retainUntil", ts(*s.RetainUntil))
	}
	if version != summaryV1 {
		set("firstForkGuid", s.FirstForkGUID)
		set("forkGuid", s.ForkGUID)
		set("forkPointLsn", string(s.ForkPointLSN))
		if s.ForkTime != nil {
			set("forkTime", ts(*s.ForkTime))
		}
	}
	if version == summaryV3 && s.ServerUTCOffsetMinutes != nil {
		set("serverUtcOffsetMinutes", strconv.Itoa(*s.ServerUTCOffsetMinutes))
	}
	return version + v.Encode()
}

// Digest is a short fingerprint of the summary, "v3:" + 32 hex digits of the SHA-256 of its
// v3 encoding. A restore plan carries it per step, so the step can check that the manifest
// it reads still says exactly what the plan was made from (CheckSummaryDigest).
func (s PointSummary) Digest() string { return s.digestAs(summaryV3) }

func (s PointSummary) digestAs(version string) string {
	h := sha256.Sum256([]byte(s.encodeAs(version)))
	return version + hex.EncodeToString(h[:16])
}

// CheckSummaryDigest reports whether digest (from PointSummary.Digest, perhaps of another
// build) is m's. known is false for a digest of a version this build cannot compute, which
// the caller then cannot check.
func CheckSummaryDigest(m *Manifest, digest string) (match, known bool) {
	for _, version := range []string{summaryV1, summaryV2, summaryV3} {
		if strings.HasPrefix(digest, version) {
			// A v1 digest (a plan made by an earlier build) covers the v1 fields only.
			return SummaryOf(m).digestAs(version) == digest, true
		}
	}
	return false, false
}

// Auth says whether a listed summary is authenticated (see PointSummary.Auth).
type Auth int

const (
	// AuthUnchecked: listed by a repository without keys (a report, not a decision).
	AuthUnchecked Auth = iota
	// AuthOK: its MAC (or its manifest's) verified under the key it names.
	AuthOK
	// AuthLegacy: written before summaries and manifests were authenticated; `sqlvault vault
	// upgrade` authenticates it after checking its blocks.
	AuthLegacy
	// AuthFailed: its MAC does not verify, or names a key this process lacks: changed by
	// someone without the key, copied from another point, or sealed with another key.
	AuthFailed
)

func (a Auth) String() string {
	switch a {
	case AuthOK:
		return "authenticated"
	case AuthLegacy:
		return "legacy (not authenticated: run sqlvault vault upgrade)"
	case AuthFailed:
		return "FAILED authentication"
	}
	return "unchecked (no key)"
}

// authenticatedSummary is SummaryMetadata(m) with the summary's MAC under key (nil when
// the summary is not written).
func authenticatedSummary(key *blockcrypt.Key, m *Manifest) map[string]string {
	md := SummaryMetadata(m)
	if md == nil {
		return nil
	}
	md[SummaryAuthMetadataKey] = summaryAuth(key, ManifestBlob(m.ItemID, m.PointID), md[SummaryMetadataKey])
	if CheckMetadata(md) != nil {
		return nil
	}
	return md
}

// SummaryMetadata is the metadata CommitManifest writes on m's manifest blob: the summary
// and the data key's id (KeyIDMetadataKey), or nil (then listings read the manifest) if it
// would not fit Azure's metadata limit or would not read back as the same summary: a
// summary is only written if it can be trusted to say what the manifest says.
func SummaryMetadata(m *Manifest) map[string]string {
	s := SummaryOf(m)
	md := map[string]string{SummaryMetadataKey: s.encode()}
	// The data key's id rides beside the summary, not in it: counting points per key (key
	// status) needs it, planning does not, and the summary's format stays as it is.
	if ValidKeyID(m.Encryption.KeyID) {
		md[KeyIDMetadataKey] = m.Encryption.KeyID
	}
	if CheckMetadata(md) != nil {
		return nil
	}
	if back, ok, err := decodeSummary(m.ItemID, m.PointID, md); err != nil || !ok || !reflect.DeepEqual(back, s) {
		return nil
	}
	return md
}

// decodeSummary reads the metadata of the manifest blob of itemID/pointID. ok is false when
// there is no summary of a version this build reads (the caller reads the manifest); a v1
// summary that does not decode or validate is ErrInvalidSummary.
func decodeSummary(itemID, pointID string, md map[string]string) (s PointSummary, ok bool, err error) {
	raw, found := md[SummaryMetadataKey]
	if !found {
		return PointSummary{}, false, nil
	}
	version := raw[:min(len(raw), len(summaryV2))]
	if version != summaryV1 && version != summaryV2 && version != summaryV3 {
		return PointSummary{}, false, nil
	}
	body := raw[len(version):]
	bad := func(format string, args ...any) (PointSummary, bool, error) {
		return PointSummary{}, false, fmt.Errorf("%w: %s: %s", ErrInvalidSummary, ManifestBlob(itemID, pointID), fmt.Sprintf(format, args...))
	}
	vals, err := parseSummaryQuery(body)
	if err != nil {
		return bad("%v", err)
	}
	get := func(k summaryKey) string { return vals[k] }
	s = PointSummary{ItemID: itemID, PointID: get(kPointID), Type: get(kType),
		FirstLSN: LSN(get(kFirstLsn)), LastLSN: LSN(get(kLastLsn)), CheckpointLSN: LSN(get(kCheckpointLsn)),
		DatabaseBackupLSN: LSN(get(kDatabaseBackupLsn)), DifferentialBaseLSN: LSN(get(kDifferentialBaseLsn)),
		DifferentialBaseGUID: get(kDifferentialBaseGuid), BackupSetGUID: get(kBackupSetGuid),
		DatabaseGUID: get(kDatabaseGuid), FamilyGUID: get(kFamilyGuid),
		FirstForkGUID: get(kFirstForkGuid), ForkGUID: get(kForkGuid), ForkPointLSN: LSN(get(kForkPointLsn))}
	if version == summaryV1 {
		for k := kFirstForkGuid; k < nSummaryKeys; k++ {
			if get(k) != "" {
				return bad("a v1 summary has no %s", summaryKeyNames[k])
			}
		}
	}
	if off := get(kServerUTCOffset); off != "" {
		if version != summaryV3 {
			return bad("a %s summary has no %s", strings.TrimSuffix(version, ":"), summaryKeyNames[kServerUTCOffset])
		}
		n, err := strconv.Atoi(off)
		if err != nil || n < -16*60 || n > 16*60 {
			return bad("%s %q is not a UTC offset in minutes", summaryKeyNames[kServerUTCOffset], off)
		}
		s.ServerUTCOffsetMinutes = &n
	}
	switch c := get(kCopyOnly); c {
	case "", "true":
		s.CopyOnly = c == "true"
	default:
		return bad("copyOnly %q", c)
	}
	var retain, fork time.Time
	for _, f := range []struct {
		key      summaryKey
		dst      *time.Time
		required bool // as Manifest.Validate requires it
	}{{kStartTime, &s.StartTime, false}, {kFinishTime, &s.FinishTime, false}, {kCreatedAt, &s.CreatedAt, true}, {kRetainUntil, &retain, false}, {kForkTime, &fork, false}} {
		v := get(f.key)
		if v == "" {
			if f.required {
				return bad("%s missing", summaryKeyNames[f.key])
			}
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return bad("%s %q is not an RFC 3339 time", summaryKeyNames[f.key], v)
		}
		*f.dst = t.UTC()
	}
	if get(kRetainUntil) != "" {
		s.RetainUntil = &retain
	}
	if get(kForkTime) != "" {
		s.ForkTime = &fork
	}
	if s.PointID != pointID {
		return bad("it summarizes point %q", s.PointID)
	}
	if err := s.validate(); err != nil {
		return bad("%v", err)
	}
	return s, true, nil
}

// summaryKey indexes the v1 keys.
type summaryKey int

const (
	kPointID summaryKey = iota
	kType
	kCopyOnly
	kFirstLsn
	kLastLsn
	kCheckpointLsn
	kDatabaseBackupLsn
	kDifferentialBaseLsn
	kDifferentialBaseGuid
	kBackupSetGuid
	kDatabaseGuid
	kFamilyGuid
	kStartTime
	kFinishTime
	kCreatedAt
	kRetainUntil
	kFirstForkGuid // v2 keys from here on
	kForkGuid
	kForkPointLsn
	kForkTime
	kServerUTCOffset // v3
	nSummaryKeys
)

var summaryKeyNames = [nSummaryKeys]string{"pointId", "type", "copyOnly", "firstLsn", "lastLsn", "checkpointLsn",
	"databaseBackupLsn", "differentialBaseLsn", "differentialBaseGuid", "backupSetGuid", "databaseGuid", "familyGuid",
	"startTime", "finishTime", "createdAt", "retainUntil", "firstForkGuid", "forkGuid", "forkPointLsn", "forkTime",
	"serverUtcOffsetMinutes"}

// queryByte: the bytes url.Values.Encode writes (unreserved, '%', '+', '=' and '&').
var queryByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~%+=&", byte(c)) >= 0
	}
	return t
}()

// parseSummaryQuery reads what url.Values.Encode wrote: key=value pairs joined by '&',
// values query-escaped. It is strict (each v1 key at most once, with a value; nothing
// else) and, unlike url.ParseQuery, allocates no map: a listing decodes thousands.
func parseSummaryQuery(q string) ([nSummaryKeys]string, error) {
	var out [nSummaryKeys]string
	var seen [nSummaryKeys]bool
	for i := 0; i < len(q); i++ {
		if !queryByte[q[i]] {
			return out, fmt.Errorf("not a query string: byte %q at %d", q[i], i)
		}
	}
	for pair := range strings.SplitSeq(q, "&") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return out, fmt.Errorf("not a query string: %q has no '='", pair)
		}
		k := summaryKey(0)
		for k < nSummaryKeys && summaryKeyNames[k] != key {
			k++
		}
		if k == nSummaryKeys {
			return out, fmt.Errorf("unknown key %q (a summary has exactly the keys of its version)", key)
		}
		if seen[k] || value == "" {
			return out, fmt.Errorf("key %q must have one non-empty value", key)
		}
		seen[k] = true
		if strings.ContainsAny(value, "%+") {
			v, err := url.QueryUnescape(value)
			if err != nil {
				return out, fmt.Errorf("not a query string: %s: %v", key, err)
			}
			value = v
		}
		out[k] = value
	}
	return out, nil
}

// validate applies Manifest.Validate's rules to the summary's fields, so a summary can never
// say what a valid manifest could not. s.PointID is the one in the blob's name, which the
// listing already matched against the point id pattern.
func (s PointSummary) validate() error {
	parts := strings.SplitN(s.PointID, "-", 3)
	if len(parts) != 3 {
		return fmt.Errorf("pointId %q is not a point id", s.PointID)
	}
	if typ := parts[1]; typ != s.Type {
		return fmt.Errorf("pointId says %q, type says %q", typ, s.Type)
	}
	for _, f := range []struct {
		name     string
		lsn      LSN
		optional bool
	}{{"firstLsn", s.FirstLSN, false}, {"lastLsn", s.LastLSN, false}, {"checkpointLsn", s.CheckpointLSN, false},
		{"databaseBackupLsn", s.DatabaseBackupLSN, true}, {"differentialBaseLsn", s.DifferentialBaseLSN, true}} {
		if (f.lsn != "" || !f.optional) && !f.lsn.Valid() {
			return fmt.Errorf("%s %q is not a decimal LSN", f.name, f.lsn)
		}
	}
	if s.FirstLSN.Compare(s.LastLSN) > 0 {
		return errors.New("firstLsn is after lastLsn")
	}
	if s.Type == BackupDifferential && s.DifferentialBaseLSN == "" {
		return errors.New("a differential needs differentialBaseLsn")
	}
	// The manifest's fork rules, on the summary's fields.
	m := Manifest{Schema: ManifestSchema, Backup: BackupInfo{Type: s.Type, FirstLSN: s.FirstLSN, LastLSN: s.LastLSN,
		FirstForkGUID: s.FirstForkGUID, ForkGUID: s.ForkGUID, ForkPointLSN: s.ForkPointLSN, ForkTime: s.ForkTime}}
	return m.validateForks()
}

// ListPointSummaries returns the summaries of an item's recovery points, in ListPoints'
// order, from one listing of its points folder: a manifest blob whose metadata carries a v1
// summary costs nothing more; one without (written before summaries existed) or with a
// summary version this build does not know is read and decoded, as ListPoints does, so
// mixed vaults work. A summary that does not decode, or a manifest that cannot be read,
// fails the whole call (ErrInvalidSummary, or ListPoints' errors): a point is never dropped.
//
// With keys (WithKeys), each summary is authenticated and says so (PointSummary.Auth): by
// its MAC in the listing's metadata, or by its manifest's when it came from the manifest.
// One that fails authentication is still listed, flagged AuthFailed (its fields are what
// the vault says, unverified): a caller that acts on summaries skips and reports it.
func (r *Repository) ListPointSummaries(ctx context.Context, itemID string) ([]PointSummary, error) {
	var out []PointSummary
	var missing []int // indexes into out whose summary must come from the manifest
	var errs []error
	err := r.store.List(ctx, PointsPrefix(itemID), func(b BlobInfo) error {
		bn := parseBlobName(b.Name)
		if bn.kind != "manifest" {
			return nil
		}
		s, ok, err := decodeSummary(itemID, bn.pointID, b.Metadata)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !ok:
			missing = append(missing, len(out))
			s = PointSummary{ItemID: itemID, PointID: bn.pointID}
		case r.keys != nil:
			s.Auth = AuthOK
			if legacy, err := r.checkSummaryAuth(ctx, b.Name, b.Metadata); err != nil {
				s.Auth = AuthFailed
				if legacy {
					// Every listing of a vault not yet upgraded meets these: the callers
					// that act on summaries report them, once per decision.
					s.Auth = AuthLegacy
					break
				}
				r.log.Warn("recovery point summary failed authentication", zap.String("blob", b.Name), zap.Error(err))
			}
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vault: list points of %s: %w", itemID, err)
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default:
		// One systematic fault can spoil thousands; the first names the blob and the fault.
		return nil, fmt.Errorf("%w (and %d more summaries of %s that do not decode)", errs[0], len(errs)-1, itemID)
	}
	if len(missing) > 0 {
		r.log.Debug("reading manifests without a summary", zap.String("item", itemID), zap.Int("manifests", len(missing)))
		errs = make([]error, len(missing))
		sem := make(chan struct{}, manifestReaders)
		var wg sync.WaitGroup
		for k, i := range missing {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				out[i], errs[k] = r.summaryFromManifest(ctx, itemID, out[i].PointID)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	// The listing is in name order, which is point-id time order already; the sort settles
	// points of the same second by creation time, as ListPoints does.
	sort.SliceStable(out, func(i, j int) bool {
		return pointOrder(out[i].PointID, out[i].CreatedAt, out[j].PointID, out[j].CreatedAt)
	})
	return out, nil
}

// summaryFromManifest is the summary of a point whose listing carried none, from its
// manifest, authenticated as the manifest is (AuthUnchecked without keys).
func (r *Repository) summaryFromManifest(ctx context.Context, itemID, pointID string) (PointSummary, error) {
	name := ManifestBlob(itemID, pointID)
	data, err := r.store.Get(ctx, name)
	if err != nil {
		return PointSummary{}, fmt.Errorf("vault: point %s/%s: %w", itemID, pointID, err)
	}
	var m *Manifest
	auth := AuthUnchecked
	if r.keys != nil {
		var how manifestAuth
		m, how, err = r.authenticateManifest(ctx, name, data)
		switch {
		case err == nil && how == authVerified:
			auth = AuthOK
		case err == nil:
			auth = AuthLegacy
		case errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrNoKey):
			r.log.Warn("recovery point manifest not authenticated", zap.String("blob", name), zap.Error(err))
			auth, m = AuthFailed, nil
		default:
			return PointSummary{}, err
		}
	}
	if m == nil {
		if m, err = readUnverified(name, data); err != nil {
			return PointSummary{}, err
		}
	}
	if m.ItemID != itemID || m.PointID != pointID {
		return PointSummary{}, fmt.Errorf("%w: %s holds point %s/%s", ErrInvalidManifest, name, m.ItemID, m.PointID)
	}
	s := SummaryOf(m)
	s.Auth = auth
	return s, nil
}

// DiffersFromPlan lists how the manifest disagrees with a restore step planned from its
// summary: another backup type or other LSNs, or (given a digest this build knows)
// another summary, which covers every field the planner used. Empty when it agrees. The
// agent refuses a step on any difference (activities/agent, checkStepManifest).
func (m *Manifest) DiffersFromPlan(typ, firstLSN, lastLSN, summaryDigest string) []string {
	var diffs []string
	b := m.Backup
	if b.Type != typ {
		diffs = append(diffs, fmt.Sprintf("type %s (plan: %s)", b.Type, typ))
	}
	if string(b.FirstLSN) != firstLSN {
		diffs = append(diffs, fmt.Sprintf("first LSN %s (plan: %s)", b.FirstLSN, firstLSN))
	}
	if string(b.LastLSN) != lastLSN {
		diffs = append(diffs, fmt.Sprintf("last LSN %s (plan: %s)", b.LastLSN, lastLSN))
	}
	if summaryDigest != "" {
		// A digest of a summary version this build does not know cannot be checked; the
		// type and LSNs above still are.
		if match, known := CheckSummaryDigest(m, summaryDigest); known && !match {
			diffs = append(diffs, "other planning fields (times, checkpoint or base LSNs, GUIDs, copy-only) than the plan's summary")
		}
	}
	return diffs
}

// Point is the recovery point the summary describes, as the chain rules see it: the one
// conversion from the vault's records to the domain's (a manifest converts through
// SummaryOf, so both say the same).
func (s PointSummary) Point() domain.Point {
	return domain.Point{
		ID: s.PointID, Type: s.Type, CopyOnly: s.CopyOnly,
		FirstLSN: s.FirstLSN, LastLSN: s.LastLSN, CheckpointLSN: s.CheckpointLSN,
		DatabaseBackupLSN: s.DatabaseBackupLSN, DifferentialBaseLSN: s.DifferentialBaseLSN,
		BackupSetGUID: s.BackupSetGUID, DatabaseGUID: s.DatabaseGUID, FamilyGUID: s.FamilyGUID,
		Start: s.StartTime, Finish: s.FinishTime,
		FirstFork: s.FirstForkGUID, Fork: s.ForkGUID, ForkPoint: s.ForkPointLSN, ForkTime: s.ForkTime,
		RetainUntil: s.RetainUntil,
	}
}
