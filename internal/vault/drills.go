package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Restore drills' results live in the item's folder, under "drill-results/" (a 't' in its
// first segment and not starting with "it", as recordDelimiter requires), one blob per
// drill named by its start and the point it proved: beside the item's points, so the
// evidence survives the loss of the control plane, and out of Sweep's way (not a data
// folder) and retention's (not a manifest).
const drillsFolder = "drill-results/"

// DrillsPrefix is the folder of one item's drill records.
func DrillsPrefix(itemID string) string { return ItemPrefix(itemID) + drillsFolder }

// DrillBlob names a drill record: its start first, so a listing is in drill order, then
// its outcome, so a listing alone finds the last passed drill, then the point it proved
// ("none" when the drill failed before a chain was planned).
func DrillBlob(r *protocol.DrillRecord) string {
	point := r.PointID
	if point == "" {
		point = "none"
	}
	return DrillsPrefix(r.ItemID) + r.StartedAt.UTC().Format(pointTimeLayout) + "_" + r.Outcome + "_" + point + ".json"
}

// ErrInvalidDrillRecord: a drill record without a valid item ID, a start or an outcome.
var ErrInvalidDrillRecord = errors.New("vault: invalid drill record")

// PutDrill stores a drill's record (again, the same content: a retried write is harmless).
func (r *Repository) PutDrill(ctx context.Context, rec *protocol.DrillRecord) error {
	if !ValidItemID(rec.ItemID) || rec.StartedAt.IsZero() || (rec.Outcome != protocol.DrillPassed && rec.Outcome != protocol.DrillFailed) {
		return fmt.Errorf("%w: item %q, started %s, outcome %q", ErrInvalidDrillRecord, rec.ItemID, rec.StartedAt, rec.Outcome)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return r.store.Put(ctx, DrillBlob(rec), b, PutOptions{})
}

// Drills returns an item's drill records, oldest first.
func (r *Repository) Drills(ctx context.Context, itemID string) ([]*protocol.DrillRecord, error) {
	var names []string
	if err := r.store.List(ctx, DrillsPrefix(itemID), func(b BlobInfo) error {
		if strings.HasSuffix(b.Name, ".json") {
			names = append(names, b.Name)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]*protocol.DrillRecord, 0, len(names))
	for _, n := range names {
		b, err := r.store.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var rec protocol.DrillRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("vault: drill record %s: %w", n, err)
		}
		out = append(out, &rec)
	}
	return out, nil
}

// LastDrills returns an item's newest drill record and its newest passed one (the same
// record when the newest passed; nil when there is none). It reads one listing and at most
// two blobs: the outcome is in the names.
func (r *Repository) LastDrills(ctx context.Context, itemID string) (last, lastPassed *protocol.DrillRecord, err error) {
	var lastName, passedName string
	if err := r.store.List(ctx, DrillsPrefix(itemID), func(b BlobInfo) error {
		if !strings.HasSuffix(b.Name, ".json") {
			return nil
		}
		if b.Name > lastName {
			lastName = b.Name
		}
		_, rest, _ := strings.Cut(strings.TrimPrefix(b.Name, DrillsPrefix(itemID)), "_")
		if strings.HasPrefix(rest, protocol.DrillPassed+"_") && b.Name > passedName {
			passedName = b.Name
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if last, err = r.drillRecord(ctx, lastName); err != nil {
		return nil, nil, err
	}
	if passedName == lastName {
		return last, last, nil
	}
	lastPassed, err = r.drillRecord(ctx, passedName)
	return last, lastPassed, err
}

// LastDrill returns an item's newest drill record, nil if it was never drilled.
func (r *Repository) LastDrill(ctx context.Context, itemID string) (*protocol.DrillRecord, error) {
	last, _, err := r.LastDrills(ctx, itemID)
	return last, err
}

// drillRecord reads one drill record; nil for no name or a record deleted since the listing.
func (r *Repository) drillRecord(ctx context.Context, name string) (*protocol.DrillRecord, error) {
	if name == "" {
		return nil, nil
	}
	b, err := r.store.Get(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec protocol.DrillRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("vault: drill record %s: %w", name, err)
	}
	return &rec, nil
}
