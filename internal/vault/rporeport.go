package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// RPOPrefix holds the RPO watchdog's reports: the latest whole report (RPOReportBlob), and
// while a sweep runs, one blob per page of its findings (merged and deleted at its end).
// They live in the vault, not in the workflow's history, so a sweep of 2,000 items carries
// only counts through Temporal, and `sqlvault status --fleet` reads the latest report
// with nothing but vault access.
const RPOPrefix = layoutPrefix + "rpo/"

// RPOReportBlob is the latest complete report.
const RPOReportBlob = RPOPrefix + "latest.json"

// RPOPagePrefix is where a sweep's pages are.
func RPOPagePrefix(sweep string) string { return RPOPrefix + "sweeps/" + sweep + "/" }

// PutRPOPage stores one page of a sweep's findings (doc is the caller's JSON), keyed by the
// page's first item so the pages list in item order.
func (r *Repository) PutRPOPage(ctx context.Context, sweep, first string, doc []byte) error {
	if sweep == "" || strings.ContainsAny(sweep, "/\\") {
		return fmt.Errorf("rpo sweep name %q: give a name without slashes", sweep)
	}
	return r.store.Put(ctx, RPOPagePrefix(sweep)+"p"+first+".json", doc, PutOptions{})
}

// RPOPages returns every sweep's pages (a finished sweep's are deleted; there is one
// running sweep, and pages an abandoned one left), by name: a sweep's in item order.
func (r *Repository) RPOPages(ctx context.Context) (names []string, docs [][]byte, err error) {
	err = r.store.List(ctx, RPOPrefix+"sweeps/", func(b BlobInfo) error {
		names = append(names, b.Name)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		d, err := r.store.Get(ctx, n)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, d)
	}
	return names, docs, nil
}

// DeleteRPOBlobs deletes a sweep's page blobs once merged (a missing one is fine).
func (r *Repository) DeleteRPOBlobs(ctx context.Context, names []string) error {
	for _, n := range names {
		if err := r.store.Delete(ctx, n); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// PutRPOReport replaces the latest report.
func (r *Repository) PutRPOReport(ctx context.Context, doc []byte) error {
	return r.store.Put(ctx, RPOReportBlob, doc, PutOptions{})
}

// RPOReport reads the latest report; nil when no sweep has finished.
func (r *Repository) RPOReport(ctx context.Context) ([]byte, error) {
	d, err := r.store.Get(ctx, RPOReportBlob)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return d, err
}
