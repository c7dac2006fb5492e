package starter

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/control/policy"
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
	Health     string               `json:"health"`    // ok, late, no-backup, stopped, policy-missing
	PointCount int                  `json:"points"`
}

func newStatusCmd(g *globals) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Every protected item: last good backup of each kind, next run, RPO now against its target, health",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, _, err := g.vault(ctx)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			if at != "" {
				if now, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--now %q: give an RFC 3339 time", at)
				}
			}
			items, err := repo.Items(ctx)
			if err != nil {
				return err
			}
			var out []itemStatus
			for _, it := range items {
				st := itemStatus{Instance: it.Instance, Database: it.Database, Policy: it.Policy, State: it.State,
					LastGood: map[string]time.Time{}, NextRun: map[string]time.Time{}}
				// One listing per item: the summaries carry type and finish time.
				ms, err := repo.ListPointSummaries(ctx, it.ItemID)
				if err != nil {
					return err
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
				if doc, err := repo.Policy(ctx, it.Policy); err == nil {
					var p policy.Policy
					if json.Unmarshal(doc, &p) == nil && p.Validate() == nil {
						for _, kind := range []string{policy.KindFull, policy.KindDifferential, policy.KindLog} {
							if next, ok := p.Next(kind, now); ok && it.State == vault.ItemProtected {
								st.NextRun[kind] = next
							}
						}
						target = 24 * time.Hour
						if p.Full.Frequency == policy.FrequencyWeekly {
							target = 7 * 24 * time.Hour
						}
						if p.Log != nil {
							target = time.Duration(p.Log.EveryMinutes) * time.Minute
						}
					}
				}
				st.RPOTarget = target.String()
				switch {
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
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
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
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&at, "now", "", "evaluate as of this instant (RFC 3339; default now)")
	return cmd
}
