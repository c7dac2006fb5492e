// Package starter is sqlvault's CLI (the `sqlvault` binary, cmd/sqlvault) for people and scripts. It only starts, queries and
// watches workflows and reads the vault; every data-moving step runs in the workflows.
// Everything it does can also be done with the stock Temporal CLI (see README.md).
package starter

import (
	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/buildinfo"
)

// NewRoot is the root command of the binary.
func NewRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "sqlvault",
		Short: "Start and watch sqlvault backups, and read the vault",
		Long: `sqlvault starts sqlvault workflows on Temporal and reads recovery points from the vault.

Configuration comes from the same file as the worker (--config), environment variables
(SQLVAULT_*) and flags. Output is a table by default and JSON with --json.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.bind(root)
	root.AddCommand(newBackupCmd(g), newListCmd(g), newShowCmd(g), newVerifyCmd(g), newRestoreCmd(g), newRestorableCmd(g), newDiscoverCmd(g),
		newPolicyCmd(g), newProtectCmd(g), newUnprotectCmd(g), newResumeCmd(g), newRetentionCmd(g), newReconcileCmd(g), newStatusCmd(g), newDrillsCmd(g), newVaultCmd(g), newKeyCmd(g), newCodecCmd(g),
		buildinfo.NewCommand("sqlvault"))
	return root
}
