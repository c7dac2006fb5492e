package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// itemStatus is one protected item's health, as `status` reports it.
type itemStatus struct {
	Instance   string               `json:"instance"`
	Database   string               `json:"database"`
	Policy     string               `json:"policy"`
	State      string               `json:"state"`
	LastGood   map[string]time.Time `json:"lastGood"` // by kind: the newest recovery point's finish
	NextRun    map[string]time.Time `json:"nextRun,omitempty"`
	RPO        string               `json:"rpo"`       // now minus the newest recovery point
	RPOTarget  string               `json:"rpoTarget"` // the log interval, or the full interval without logs
	Health     string               `json:"health"`    // ok, late, no-backup, stopped, policy-missing, unauthenticated
	PointCount int                  `json:"points"`
	// ProtectionTag is what an overwrite restore of the database must name while it is
	// under active protection (protocol.ProtectionTag).
	ProtectionTag string `json:"protectionTag"`
	// Unauthenticated says why the item record or its policy is not authenticated (health
	// "unauthenticated"): shown, as read, and not acted on — retention deletes nothing of
	// the database, an overwrite of it is refused, and it has no protection tag.
	Unauthenticated string `json:"unauthenticated,omitempty"`
	// LastDrill is the newest restore drill of an item whose policy has a drill (nil:
	// never drilled, or no drill in its policy).
	LastDrill *protocol.DrillRecord `json:"lastDrill,omitempty"`
	drilled   bool
}

// nextRunFunc is the next time a schedule will start a backup; zero when it will not (no
// such schedule, or it is paused).
type nextRunFunc func(ctx context.Context, scheduleID string) (time.Time, error)

// scheduleNextRun asks Temporal: the schedule's own next action time, which accounts for
// its spec as Temporal evaluates it, pauses, and whatever was changed in the UI.
func scheduleNextRun(sc client.ScheduleClient) nextRunFunc {
	return func(ctx context.Context, id string) (time.Time, error) {
		d, err := sc.GetHandle(ctx, id).Describe(ctx)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, err
		}
		if d.Schedule.State != nil && d.Schedule.State.Paused || len(d.Info.NextActionTimes) == 0 {
			return time.Time{}, nil
		}
		return d.Info.NextActionTimes[0].UTC(), nil
	}
}

// describeConcurrency bounds the schedule descriptions in flight (three per item).
const describeConcurrency = 8

func newStatusCmd(g *globals) *cobra.Command {
	var at string
	var fleet, direct bool
	cmd := &cobra.Command{
		Use:   "status [--fleet [--direct]]",
		Short: "Every protected item: last good backup of each kind, next run, RPO now against its target, health",
		Long: `status reads the items and their recovery points from the vault, and each item's next runs
from its Temporal Schedules (a paused schedule has none). --now changes the instant RPO and
health are judged at; next runs are always Temporal's.

--fleet shows every protected item's RPO against its target, worst first, with the reason
of each breach and what fixes it, and the restore time its last restore drill measured
(LAST RTO): from the RPO watchdog's latest sweep (stored in the
vault), or judged here when that is older than three watchdog intervals or --direct is given.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, cfg, err := g.vault(ctx)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			if at != "" {
				if now, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--now %q: give an RFC 3339 time", at)
				}
			}
			if fleet {
				return runFleetStatus(cmd, g, repo, cfg, now, direct)
			}
			var next nextRunFunc
			if tc, err := dialTemporal(ctx, g, cfg); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: next runs not shown: %v\n", err)
			} else {
				defer tc.Close()
				next = scheduleNextRun(tc.ScheduleClient())
			}
			out, err := itemStatuses(ctx, repo, now, next, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), out)
			}
			return printStatus(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&at, "now", "", "judge RPO and health as of this instant (RFC 3339; default now)")
	cmd.Flags().BoolVar(&fleet, "fleet", false, "every item's RPO against its target, worst first, with the reason of each breach")
	cmd.Flags().BoolVar(&direct, "direct", false, "with --fleet: judge the fleet now instead of reading the watchdog's report")
	return cmd
}

// itemStatuses builds every item's status from the vault, judged at now, with next runs from
// next (nil: none shown). A schedule that cannot be described is reported on warn and
// shown without a next run.
func itemStatuses(ctx context.Context, repo *vault.Repository, now time.Time, next nextRunFunc, warn io.Writer) ([]itemStatus, error) {
	items, err := repo.Items(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]itemStatus, 0, len(items))
	for _, it := range items {
		st := itemStatus{Instance: it.Instance, Database: it.Database, Policy: it.Policy, State: it.State,
			LastGood: map[string]time.Time{}, NextRun: map[string]time.Time{},
			ProtectionTag: protocol.ProtectionTag(it.ItemID, it.State, it.UpdatedAt)}
		if repo.HasKeys() {
			// Without the keys nothing is checked, and everything is shown as unchecked.
			st.Unauthenticated = it.Unauthenticated
		}
		if st.Unauthenticated != "" {
			st.ProtectionTag = "" // an overwrite check refuses the record anyway
		}
		// One listing per item: the summaries carry type and finish time.
		ms, err := repo.ListPointSummaries(ctx, it.ItemID)
		if err != nil {
			return nil, err
		}
		st.PointCount = len(ms)
		var newest time.Time
		for _, m := range ms {
			if m.FinishTime.After(st.LastGood[m.Type]) {
				st.LastGood[m.Type] = m.FinishTime
			}
			if m.FinishTime.After(newest) {
				newest = m.FinishTime
			}
		}
		var target time.Duration
		doc, auth, err := repo.PolicyUnverified(ctx, it.Policy)
		if auth != nil && st.Unauthenticated == "" && repo.HasKeys() {
			st.Unauthenticated = "policy " + it.Policy + ": " + auth.Error()
		}
		if err == nil {
			var p policy.Policy
			if json.Unmarshal(doc, &p) == nil && p.Validate() == nil {
				// A database that takes no log backups (SIMPLE recovery) has no log schedule:
				// its RPO is the full's interval whatever the policy says of logs.
				target = p.RPOTarget(allowsKind(it, policy.KindLog))
				if p.Drill != nil {
					st.drilled = true
					if st.LastDrill, err = repo.LastDrill(ctx, it.ItemID); err != nil {
						return nil, err
					}
				}
			}
		}
		st.RPOTarget = target.String()
		switch {
		case st.Unauthenticated != "":
			st.Health = "unauthenticated"
		case it.State != vault.ItemProtected:
			st.Health = "stopped"
		case target == 0:
			st.Health = "policy-missing"
		case newest.IsZero():
			st.Health = "no-backup"
		case now.Sub(newest) > 2*target:
			st.Health = "late"
		default:
			st.Health = "ok"
		}
		if !newest.IsZero() {
			st.RPO = now.Sub(newest).Round(time.Second).String()
		}
		out = append(out, st)
	}
	if next != nil {
		fillNextRuns(ctx, items, out, next, warn)
	}
	return out, nil
}

// allowsKind: the item's database takes backups of kind (vault.ProtectedItem.AllowsKind).
func allowsKind(it *vault.ProtectedItem, kind string) bool { return it.AllowsKind(kind) }

// fillNextRuns asks next for each protected item's schedules, a few at a time. A stopped
// item has no schedules (StopProtection removed them), so it is not asked about.
func fillNextRuns(ctx context.Context, items []*vault.ProtectedItem, out []itemStatus, next nextRunFunc, warn io.Writer) {
	type ask struct {
		i    int
		kind string
		id   string
	}
	var asks []ask
	for i, it := range items {
		if it.State != vault.ItemProtected {
			continue
		}
		for _, kind := range []string{policy.KindFull, policy.KindDifferential, policy.KindLog} {
			asks = append(asks, ask{i, kind, protocol.ItemScheduleID(it.ItemID, kind)})
		}
	}
	var mu sync.Mutex
	var failed []string
	var firstErr error
	sem := make(chan struct{}, describeConcurrency)
	var wg sync.WaitGroup
	for _, a := range asks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t, err := next(ctx, a.id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed = append(failed, a.id)
				if firstErr == nil {
					firstErr = err
				}
			case !t.IsZero():
				out[a.i].NextRun[a.kind] = t
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		fmt.Fprintf(warn, "warning: %d schedule(s) could not be described (first %s: %v); their next runs are not shown\n", len(failed), failed[0], firstErr)
	}
}

func printStatus(w io.Writer, out []itemStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tDATABASE\tPOLICY\tHEALTH\tRPO / TARGET\tLAST FULL\tLAST LOG\tNEXT FULL\tNEXT LOG")
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	for _, s := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s / %s\t%s\t%s\t%s\t%s\n", s.Instance, s.Database, s.Policy, s.Health, s.RPO, s.RPOTarget,
			ts(s.LastGood[policy.KindFull]), ts(s.LastGood[policy.KindLog]), ts(s.NextRun[policy.KindFull]), ts(s.NextRun[policy.KindLog]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printStatusDrills(w, out)
}

// printStatusDrills adds, below the table, the last restore drill of each item whose
// policy has one (`sqlvault drills` has every item and more).
func printStatusDrills(w io.Writer, out []itemStatus) error {
	var lines []drillLine
	for _, s := range out {
		if s.drilled {
			lines = append(lines, drillLine{Instance: s.Instance, Database: s.Database, Last: s.LastDrill})
		}
	}
	if len(lines) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nrestore drills (sqlvault drills for the last passed and every item):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tDATABASE\tLAST DRILL\tOUTCOME\tRESTORE (RTO)\tCHECKDB / ERROR")
	for _, l := range lines {
		if l.Last == nil {
			fmt.Fprintf(tw, "%s\t%s\tnever\t-\t-\t-\n", l.Instance, l.Database)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Instance, l.Database, l.Last.StartedAt.UTC().Format("2006-01-02 15:04"),
			l.Last.Outcome, drillRTO(l.Last), orDash(drillVerdict(l.Last)))
	}
	return tw.Flush()
}
