package starter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/logging"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// globals are the flags every command shares and the connections built from them.
type globals struct {
	root     *cobra.Command
	jsonOut  bool
	logLevel string
}

func (g *globals) bind(root *cobra.Command) {
	g.root = root
	config.BindClientFlags(root.PersistentFlags())
	root.PersistentFlags().BoolVar(&g.jsonOut, "json", false, "print JSON instead of tables")
}

func (g *globals) config() (*config.Config, error) {
	return config.Load("", os.Getenv, g.root.PersistentFlags())
}

func (g *globals) logger(cfg *config.Config) *zap.Logger {
	level := cfg.Log.Level
	if level == "" || level == "info" {
		level = "warn" // the CLI's own output is the point; logs only for trouble
	}
	l, err := logging.New(level, "console")
	if err != nil {
		return zap.NewNop()
	}
	return l
}

func (g *globals) temporal(ctx context.Context) (client.Client, *config.Config, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, nil, err
	}
	tc, err := dialTemporal(ctx, g, cfg)
	return tc, cfg, err
}

// dialTemporal connects to Temporal with a configuration already loaded.
func dialTemporal(ctx context.Context, g *globals, cfg *config.Config) (client.Client, error) {
	return temporalx.Dial(ctx, cfg.Temporal, g.logger(cfg))
}

func (g *globals) vault(ctx context.Context) (*vault.Repository, *config.Config, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, nil, err
	}
	store, err := azstore.FromConfig(ctx, cfg.Vault)
	if err != nil {
		return nil, nil, err
	}
	return vault.NewRepository(store, g.logger(cfg)), cfg, nil
}

func (g *globals) key(cfg *config.Config) (*blockcrypt.Key, error) {
	if cfg.Key.File == "" {
		return nil, fmt.Errorf("a deep verify decrypts the data: give the vault key with --key-file or SQLVAULT_KEY_FILE")
	}
	return blockcrypt.LoadKeyFile(cfg.Key.File)
}

func (g *globals) printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// startAndWatch is the common shape of commands that start a workflow: start it, then either
// print its IDs (to watch in the Web UI or with `temporal workflow`) or wait for the result
// with progress, and print it as a table or JSON.
func startAndWatch[R any](cmd *cobra.Command, g *globals, wait bool,
	start func(context.Context, client.Client, string) (client.WorkflowRun, error),
	waitFor func(context.Context, client.Client, client.WorkflowRun, io.Writer, bool) (*R, error),
	print func(io.Writer, *R)) error {
	ctx := cmd.Context()
	tc, cfg, err := g.temporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	run, err := start(ctx, tc, cfg.Temporal.ControlTaskQueue)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !wait {
		if g.jsonOut {
			return g.printJSON(out, map[string]string{"workflowId": run.GetID(), "runId": run.GetRunID()})
		}
		fmt.Fprintf(out, "started %s (run %s)\nwatch it with --wait, the Temporal Web UI, or `temporal workflow describe --workflow-id %s`\n",
			run.GetID(), run.GetRunID(), run.GetID())
		return nil
	}
	res, err := waitFor(ctx, tc, run, cmd.ErrOrStderr(), !g.jsonOut)
	if err != nil {
		return err
	}
	if g.jsonOut {
		return g.printJSON(out, res)
	}
	print(out, res)
	return nil
}
