package vault

import (
	"crypto/rand"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sqlvault/sqlvault/internal/domain"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Layout version prefix: every name the vault writes starts with it, so a future layout can
// live beside this one in the same container.
const layoutPrefix = "v1/"

// ItemsPrefix is where every protected item lives.
const ItemsPrefix = layoutPrefix + "items/"

// ItemID names a protected database (protocol.ItemID: workflows compute it too, so the
// rule lives with the wire types).
func ItemID(instance, database string) string { return protocol.ItemID(instance, database) }

// Backup types as they appear in point ids and manifests.
const (
	BackupFull         = domain.Full
	BackupDifferential = domain.Differential
	BackupLog          = domain.Log
)

// pointTimeLayout is the UTC timestamp at the head of a point id: it sorts as text in time
// order, which is what makes a plain blob listing chronological.
const pointTimeLayout = "20060102T150405Z"

var (
	itemIDRe  = regexp.MustCompile(`^i[0-9a-f]{24}$`)
	pointIDRe = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-(full|differential|log)-[0-9a-z]{1,32}$`)
	stripeRe  = regexp.MustCompile(`^a([0-9]+)-s([0-9]+)\.(bak|idx)$`)
)

// NewPointID returns a time-sortable recovery point id, "20261126T101530Z-full-<rand>".
// rand must be 1–32 characters of [0-9a-z] (the workflow passes something deterministic, e.g.
// derived from its run id, so a replayed workflow computes the same id); an empty rand draws
// 8 random characters. Backup types outside full/differential/log or a bad rand panic: both
// are programming errors, and an id that breaks ParsePointID must never reach the vault.
func NewPointID(t time.Time, backupType string, rnd string) string {
	if rnd == "" {
		rnd = randomSuffix(8)
	}
	id := t.UTC().Format(pointTimeLayout) + "-" + backupType + "-" + rnd
	if !pointIDRe.MatchString(id) {
		panic(fmt.Sprintf("vault: NewPointID(%q, %q): invalid backup type or suffix", backupType, rnd))
	}
	return id
}

func randomSuffix(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ValidItemID reports whether s has ItemID's form.
func ValidItemID(s string) bool { return itemIDRe.MatchString(s) }

// ParsePointID splits a point id into its time and backup type.
func ParsePointID(id string) (t time.Time, backupType string, err error) {
	if !pointIDRe.MatchString(id) {
		return time.Time{}, "", fmt.Errorf("vault: %q is not a point id", id)
	}
	parts := strings.SplitN(id, "-", 3)
	t, err = time.Parse(pointTimeLayout, parts[0])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("vault: point id %q: %w", id, err)
	}
	return t, parts[1], nil
}

// ItemPrefix is the folder of one item.
func ItemPrefix(itemID string) string { return ItemsPrefix + itemID + "/" }

// PointsPrefix is the folder of an item's manifests.
func PointsPrefix(itemID string) string { return ItemPrefix(itemID) + "points/" }

// PointDataPrefix is the folder of one point's stripes (all attempts).
func PointDataPrefix(itemID, pointID string) string {
	return ItemPrefix(itemID) + "data/" + pointID + "/"
}

// ManifestBlob is the manifest of one recovery point; the point exists iff this blob does.
func ManifestBlob(itemID, pointID string) string { return PointsPrefix(itemID) + pointID + ".json" }

// ItemBlob is reserved for the protected-item record (config and policy).
func ItemBlob(itemID string) string { return ItemPrefix(itemID) + "item.json" }

// recordDelimiter lists the item records without walking the items' points (ItemIDs). Under
// ItemsPrefix, the first 't' of every name the layout defines falls before the name fans out
// per point: an item id ("i" + hex) has none, and the four names in an item's folder have one
// within their first word — "it"em.json, "point"s/…, "dat"a/…, "drill-resul"t… (drills.go). A
// listing of ItemsPrefix with 't' as its delimiter therefore returns at most four folders per item, however many points
// it has, and the folder recordFolder(item) stands for the item record. TestRecordDelimiter
// pins this; a new name in an item's folder must keep it (a 't' in its first segment, and
// not starting with "it").
const recordDelimiter = "t"

// recordFolder is the folder (for recordDelimiter) that ItemBlob lies in.
func recordFolder(itemID string) string { return ItemPrefix(itemID) + "it" }

// itemOfRecordFolder returns the item whose record folder is f.
func itemOfRecordFolder(f string) (string, bool) {
	rest, ok := strings.CutPrefix(f, ItemsPrefix)
	if !ok {
		return "", false
	}
	id, tail, ok := strings.Cut(rest, "/")
	if !ok || tail != "it" || !ValidItemID(id) {
		return "", false
	}
	return id, true
}

// DataBlob is the encrypted data of one stripe of one attempt. Attempts (the workflow's
// activity attempt, from 1) keep a retried backup from colliding with the blobs of a failed
// one; the losers become garbage for Sweep.
func DataBlob(itemID, pointID string, attempt, stripe int) string {
	return fmt.Sprintf("%sa%d-s%d.bak", PointDataPrefix(itemID, pointID), attempt, stripe)
}

// IndexBlob is the block map written beside a data blob when it is committed.
func IndexBlob(dataBlob string) string { return strings.TrimSuffix(dataBlob, ".bak") + ".idx" }

// blobName is a parsed vault blob name.
type blobName struct {
	itemID  string
	kind    string // "manifest", "data", "index", "item", or "" for a name outside the layout
	pointID string
	attempt int
	stripe  int
}

// parseBlobName recognises the names the layout defines.
func parseBlobName(name string) blobName {
	rest, ok := strings.CutPrefix(name, ItemsPrefix)
	if !ok {
		return blobName{}
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || !ValidItemID(parts[0]) {
		return blobName{}
	}
	bn := blobName{itemID: parts[0]}
	switch {
	case len(parts) == 2 && parts[1] == "item.json":
		bn.kind = "item"
	case len(parts) == 3 && parts[1] == "points" && strings.HasSuffix(parts[2], ".json"):
		id := strings.TrimSuffix(parts[2], ".json")
		if pointIDRe.MatchString(id) {
			bn.kind, bn.pointID = "manifest", id
		}
	case len(parts) == 4 && parts[1] == "data" && pointIDRe.MatchString(parts[2]):
		bn.pointID = parts[2]
		if m := stripeRe.FindStringSubmatch(parts[3]); m != nil {
			bn.attempt, _ = strconv.Atoi(m[1])
			bn.stripe, _ = strconv.Atoi(m[2])
			bn.kind = map[string]string{"bak": "data", "idx": "index"}[m[3]]
		}
	}
	return bn
}

// underPoint reports whether blob lies in the data folder of the given point.
func underPoint(blob, itemID, pointID string) bool {
	return path.Dir(blob)+"/" == PointDataPrefix(itemID, pointID)
}
