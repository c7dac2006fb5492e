// Command starter is sqlvault's CLI for people and scripts. It only starts, queries and
// watches workflows and reads the vault; every data-moving step runs in the workflows.
// Everything it does can also be done with the stock Temporal CLI (see README.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "starter",
		Short: "Start and watch sqlvault backups, and read the vault",
		Long: `starter starts sqlvault workflows on Temporal and reads recovery points from the vault.

Configuration comes from the same file as the worker (--config), environment variables
(SQLVAULT_*) and flags. Output is a table by default and JSON with --json.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.bind(root)
	root.AddCommand(newBackupCmd(g), newListCmd(g), newShowCmd(g), newVerifyCmd(g), newRestoreCmd(g), newRestorableCmd(g), newDiscoverCmd(g),
		newPolicyCmd(g), newProtectCmd(g), newUnprotectCmd(g), newResumeCmd(g), newRetentionCmd(g), newReconcileCmd(g), newStatusCmd(g))
	return root
}
