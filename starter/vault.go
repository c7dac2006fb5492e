package starter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

func newVaultCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Look after the vault: authenticate old points (upgrade), protect the storage account (harden)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newVaultUpgradeCmd(g), newVaultHardenCmd(g))
	return cmd
}

// hardenReport is what `vault harden` found, did, and leaves to Azure Resource Manager.
type hardenReport struct {
	Account   string             `json:"account"`
	Container string             `json:"container"`
	Before    azstore.Protection `json:"before"`
	After     azstore.Protection `json:"after"`
	Applied   []string           `json:"applied,omitempty"`
	// WORMDays is the retention period the container's default immutability policy needs:
	// the longest any policy in the vault keeps a point.
	WORMDays int `json:"wormDays"`
	// Manual are the settings only Azure Resource Manager changes, as Azure CLI commands.
	Manual []hardenStep `json:"manual,omitempty"`
}

type hardenStep struct {
	What    string `json:"what"`
	Command string `json:"command"`
}

func newVaultHardenCmd(g *globals) *cobra.Command {
	var softDays int32
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "harden",
		Short: "Turn on blob soft delete and show the Azure commands for versioning, container soft delete and WORM",
		Long: `harden protects the vault against deletion by a stolen credential or a mistake, with what
Azure offers:

- blob soft delete (a deleted or overwritten blob is kept --soft-delete-days and can be
  undeleted): set here, through the blob service's properties, with the vault credential
  (the account key, or an identity allowed to manage the account's blob service; a
  container SAS cannot);
- blob versioning, container soft delete and version-level immutability (WORM) with a
  default retention period as long as the longest retention of the vault's policies: these
  are settings of the storage account's Azure resource, which only Azure Resource Manager
  changes; harden prints the Azure CLI commands, with the period computed from the policies.

It is safe to run again: settings already in place are left as they are. Run
"sqlvault-worker doctor" on any VM to see what is in force. Azurite (the emulator used in
tests) stores soft delete but enforces none of it and has no immutability.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, cfg, err := g.vault(ctx)
			if err != nil {
				return err
			}
			acct, err := azstore.AccountFromConfig(cfg.Vault)
			if err != nil {
				return err
			}
			rep, err := harden(ctx, acct, repo, cfg.Vault.AccountName(), cfg.Vault.Container, softDays, dryRun)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), rep)
			}
			printHarden(cmd.OutOrStdout(), rep, dryRun)
			return nil
		},
	}
	cmd.Flags().Int32Var(&softDays, "soft-delete-days", 14, "days a deleted blob stays recoverable (1–365; 14 is Azure Backup's soft delete)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report only; change nothing")
	return cmd
}

// harden applies soft delete (unless it is on for at least days already) and works out the
// rest.
func harden(ctx context.Context, acct *azstore.Account, repo *vault.Repository, account, container string, days int32, dryRun bool) (*hardenReport, error) {
	if days < 1 || days > azstore.MaxSoftDeleteDays {
		return nil, fmt.Errorf("--soft-delete-days %d: Azure allows 1 to %d", days, azstore.MaxSoftDeleteDays)
	}
	worm, err := longestRetention(ctx, repo)
	if err != nil {
		return nil, err
	}
	rep := &hardenReport{Account: account, Container: container, WORMDays: int(worm / (24 * time.Hour))}
	if rep.Before, err = acct.Protection(ctx); err != nil {
		return nil, err
	}
	rep.After = rep.Before
	if !rep.Before.SoftDelete || rep.Before.SoftDeleteDays < days {
		if !dryRun {
			if err := acct.SetSoftDelete(ctx, days); err != nil {
				return nil, err
			}
			if rep.After, err = acct.Protection(ctx); err != nil {
				return nil, err
			}
		}
		rep.Applied = append(rep.Applied, fmt.Sprintf("blob soft delete: %d days", days))
	}
	rg := "<resource-group>"
	rep.Manual = append(rep.Manual, hardenStep{
		What: "blob versioning and container soft delete (Azure Resource Manager)",
		Command: fmt.Sprintf("az storage account blob-service-properties update --account-name %s --resource-group %s --enable-versioning true --enable-container-delete-retention true --container-delete-retention-days %d",
			account, rg, days),
	})
	if !rep.After.ImmutableVersions {
		rep.Manual = append(rep.Manual, hardenStep{
			What:    "version-level immutability on the container (needs versioning; cannot be undone)",
			Command: fmt.Sprintf("az storage container-rm migrate-vlw --storage-account %s --resource-group %s --name %s", account, rg, container),
		})
	}
	if rep.WORMDays > 0 {
		rep.Manual = append(rep.Manual, hardenStep{
			What: fmt.Sprintf("default time-based retention of %d days on the container (the longest policy retention), unlocked until you have tried it", rep.WORMDays),
			Command: fmt.Sprintf("az storage container immutability-policy create --account-name %s --resource-group %s --container-name %s --period %d",
				account, rg, container, rep.WORMDays),
		})
	}
	return rep, nil
}

// longestRetention is the longest retention of the vault's policies (0 without policies).
// A policy that does not parse is an error: sizing WORM from the others could leave its
// points unprotected.
func longestRetention(ctx context.Context, repo *vault.Repository) (time.Duration, error) {
	names, err := repo.Policies(ctx)
	if err != nil {
		return 0, err
	}
	var longest time.Duration
	for _, name := range names {
		doc, err := repo.Policy(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("policy %s: %w", name, err)
		}
		var p policy.Policy
		if err := json.Unmarshal(doc, &p); err != nil {
			return 0, fmt.Errorf("policy %s cannot be read (%v): fix or delete it, then run harden again", name, err)
		}
		longest = max(longest, p.LongestRetention())
	}
	return longest, nil
}

func printHarden(w io.Writer, rep *hardenReport, dryRun bool) {
	onOff := func(p azstore.Protection) string {
		s := "soft delete off"
		if p.SoftDelete {
			s = fmt.Sprintf("soft delete %d days", p.SoftDeleteDays)
		}
		if p.ImmutableVersions {
			return s + ", version-level immutability on"
		}
		return s + ", version-level immutability off"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "vault\t%s/%s\n", rep.Account, rep.Container)
	fmt.Fprintf(tw, "found\t%s\n", onOff(rep.Before))
	verb := "applied"
	if dryRun {
		verb = "would apply"
	}
	for _, a := range rep.Applied {
		fmt.Fprintf(tw, "%s\t%s\n", verb, a)
	}
	if len(rep.Applied) == 0 {
		fmt.Fprintf(tw, "applied\tnothing: the data-plane settings were already in place\n")
	}
	if !dryRun {
		fmt.Fprintf(tw, "now\t%s\n", onOff(rep.After))
	}
	tw.Flush()
	if len(rep.Manual) > 0 {
		fmt.Fprintln(w, "\nWith Azure Resource Manager (Azure CLI; fill in the resource group):")
		for _, m := range rep.Manual {
			fmt.Fprintf(w, "  # %s\n  %s\n", m.What, m.Command)
		}
	}
}
