package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// itemPagingChange gates paging: Retention and Reconcile used to list every item id in one
// payload and process them all in one run, whose history grew with the fleet. They now take
// a page of ids at a time (ListItemIDsPage), and continue as new after
// protocol.ItemPagesPerRun pages, or sooner when Temporal suggests it, carrying the cursor
// and their running totals in the input. Runs recorded before keep the single listing.
const itemPagingChange = "item-paging"

// itemPageSize is the page size an input asks for (0: the default), or a named error.
func itemPageSize(n int) (int, error) {
	switch {
	case n == 0:
		return protocol.DefaultItemPageSize, nil
	case n < 0 || n > protocol.MaxItemPageSize:
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			`invalid input: "pageSize" %d: give 1 to %d item ids a page, or leave it out (%d)`,
			n, protocol.MaxItemPageSize, protocol.DefaultItemPageSize), protocol.ErrInvalidInput, nil)
	}
	return n, nil
}

// itemPages walks the item ids from after, a page of size at a time, calling each for every
// id. It returns the cursor (the last id processed) and whether ids remain: then the caller
// continues as new from the cursor. It stops after protocol.ItemPagesPerRun pages, or after
// a page once Temporal suggests continuing as new (the history is getting large).
func itemPages(ctx, cctx workflow.Context, after string, size int, each func(id string)) (cursor string, more bool, err error) {
	cursor = after
	for pages := 1; ; pages++ {
		var pg protocol.ListItemIDsPageResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItemIDsPage,
			protocol.ListItemIDsPageInput{After: cursor, Limit: size}).Get(ctx, &pg); err != nil {
			return cursor, false, err
		}
		for _, id := range pg.IDs {
			each(id)
		}
		if len(pg.IDs) == 0 || !pg.More {
			return cursor, false, nil
		}
		cursor = pg.IDs[len(pg.IDs)-1]
		if pages >= protocol.ItemPagesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return cursor, true, nil
		}
	}
}

// retentionPaged is Retention from itemPagingChange on: each item's failure is its own, a
// listing that fails is reported and the sweep runs anyway, and the sweep runs once, in the
// last run. The result lists at most protocol.MaxListedDecisions deleted points across the
// runs (DeletedCount counts them all), so no payload grows with the fleet.
func retentionPaged(ctx, cctx workflow.Context, in protocol.RetentionInput) (*protocol.RetentionResult, error) {
	size, err := itemPageSize(in.PageSize)
	if err != nil {
		return nil, err
	}
	res := &protocol.RetentionResult{}
	if in.Totals != nil {
		*res = *in.Totals
	}
	res.DryRun = in.DryRun
	cursor, more, err := itemPages(ctx, cctx, in.Cursor, size, func(item string) {
		var ar protocol.ApplyRetentionResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityApplyRetention,
			protocol.ApplyRetentionInput{ItemID: item, DryRun: in.DryRun}).Get(ctx, &ar); err != nil {
			workflow.GetLogger(ctx).Error("retention failed for an item; the others proceed", "item", item, "error", err)
			res.Failed = append(res.Failed, retentionFailure(item, err))
			return
		}
		res.DeletedCount += len(ar.Deleted)
		if room := protocol.MaxListedDecisions - len(res.Deleted); room > 0 {
			res.Deleted = append(res.Deleted, ar.Deleted[:min(room, len(ar.Deleted))]...)
		}
		res.Kept += ar.Kept
		if ar.ItemRemoved {
			res.ItemsRemoved = append(res.ItemsRemoved, item)
		}
		if ar.DeleteAfter != nil {
			res.SoftDeleted++
		}
	})
	if err != nil {
		workflow.GetLogger(ctx).Error("retention could not list the items; sweeping anyway", "after", cursor, "error", err)
		res.Failed = append(res.Failed, retentionFailure("", err))
	}
	if more {
		next := in
		next.Cursor, next.Totals = cursor, res
		return nil, workflow.NewContinueAsNewError(ctx, protocol.WorkflowRetention, next)
	}
	// The sweep takes what it needs, not the paging state.
	var sw protocol.RetentionResult
	if err := workflow.ExecuteActivity(cctx, protocol.ActivitySweep,
		protocol.RetentionInput{DryRun: in.DryRun, SweepGraceHours: in.SweepGraceHours}).Get(ctx, &sw); err != nil {
		return nil, err
	}
	res.SweptBlobs, res.SweptBytes = sw.SweptBlobs, sw.SweptBytes
	return res, nil
}

// reconcilePaged is Reconcile's walk of the items from itemPagingChange on: one item whose
// record cannot be read, or whose schedules fail, is reported (Failed) and the rest
// proceed; a listing that fails fails the run (as the single listing did).
func reconcilePaged(ctx workflow.Context, in protocol.ReconcileInput) (*protocol.ReconcileResult, error) {
	size, err := itemPageSize(in.PageSize)
	if err != nil {
		return nil, err
	}
	cctx := controlCtx(ctx, protectionErrors...)
	rctx := controlCtx(ctx, append(append([]string{}, protectionErrors...), protocol.ErrUnreadableRecord)...)
	res := &protocol.ReconcileResult{}
	if in.Totals != nil {
		*res = *in.Totals
	}
	cursor, more, err := itemPages(ctx, cctx, in.Cursor, size, func(id string) {
		res.Items++
		var sr protocol.EnsureSchedulesResult
		if err := workflow.ExecuteActivity(rctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: id}).Get(ctx, &sr); err != nil {
			workflow.GetLogger(ctx).Error("reconcile failed for an item; the others proceed", "item", id, "error", err)
			res.Failed = append(res.Failed, retentionFailure(id, err))
			return
		}
		res.Created += sr.Created
		res.Deleted += sr.Deleted
	})
	if err != nil {
		return nil, err
	}
	if more {
		next := in
		next.Cursor, next.Totals = cursor, res
		return nil, workflow.NewContinueAsNewError(ctx, protocol.WorkflowReconcile, next)
	}
	return res, nil
}
