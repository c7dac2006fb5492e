package starter

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func newVaultUpgradeCmd(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "upgrade [--dry-run]",
		Short: "Authenticate the recovery points written before the vault authenticated its manifests",
		Long: `Authenticates, with the vault key, every manifest written before manifests were
authenticated, after checking its blocks: each block of each stripe is read, its GCM tag
verified under the key and its plaintext compared with the digest its index records. A
point whose blocks do not all verify is left as it was and reported; until it is
authenticated, restores refuse it (unless started with --allow-unauthenticated) and
retention deletes nothing of its database. It reads every byte of every legacy point once.

It is idempotent: authenticated points are left alone, so it is safe to run again (after an
interruption, or to check). Run it once the workers are upgraded.`,
		Example: `  sqlvault vault upgrade --dry-run
  sqlvault vault upgrade`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, cfg, err := g.vault(ctx)
			if err != nil {
				return err
			}
			if !repo.HasKeys() {
				if _, err := keys.FromConfig(cfg.Key, repo); err != nil {
					return fmt.Errorf("vault upgrade authenticates with the vault key: %w", err)
				}
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			o := vault.UpgradeOptions{DryRun: dryRun}
			if !g.jsonOut {
				fmt.Fprintln(tw, "KIND\tITEM\tPOINT/POLICY/INSTANCE\tOUTCOME\tREASON")
				o.Progress = func(e vault.UpgradeEntry) {
					if e.Outcome != vault.UpgradeAlready {
						kind, what := e.Kind, e.PointID
						if kind == "" {
							kind = vault.UpgradeKindPoint
						}
						switch kind {
						case vault.UpgradeKindPolicy:
							what = e.Policy
						case vault.UpgradeKindInstance:
							what = e.Instance
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", kind, e.ItemID, what, e.Outcome, e.Reason)
						_ = tw.Flush()
					}
				}
			}
			rep, err := repo.Upgrade(ctx, o)
			if g.jsonOut {
				if jerr := g.printJSON(out, rep); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				_ = tw.Flush()
				fmt.Fprintln(out, rep.String())
			}
			if err != nil {
				return err
			}
			if n := rep.Count(vault.UpgradeRefused); n > 0 {
				return fmt.Errorf("%d objects were left unauthenticated (see their reasons above): restores refuse such points, retention keeps the points of databases whose points or item records are unauthenticated, and overwrites of such databases are refused; a point whose blocks fail to verify, or a record whose MAC fails, was damaged or changed by someone without the key", n)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check every legacy point and report, writing nothing")
	return cmd
}
