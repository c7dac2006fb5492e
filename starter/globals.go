package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/logging"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
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
// With codec.keyFile set, every payload the CLI sends (workflow inputs, schedule actions,
// signals, queries) is encrypted and every one it reads decrypted, as in the workers.
func dialTemporal(ctx context.Context, g *globals, cfg *config.Config) (client.Client, error) {
	var o temporalx.DialOptions
	codec, err := payloadcodec.FromConfig(ctx, cfg.Codec, cfg.Key)
	if err != nil {
		return nil, err
	}
	if codec != nil { // a nil *Codec in the interface would not be nil
		o.Codec = codec
		heartbeatConverter = temporalx.DataConverter(codec)
	}
	return temporalx.DialWith(ctx, cfg.Temporal, g.logger(cfg), o)
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
	repo := vault.NewRepository(store, g.logger(cfg))
	// With the keys, what the CLI shows is authenticated; without them (an operator's
	// machine may have none), it is shown as unchecked, and the commands that need them say so.
	if ring, err := keys.FromConfig(cfg.Key, repo); err == nil {
		repo = repo.WithKeys(ring)
	}
	return repo, cfg, nil
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
	tc, cfg, err := g.temporal(cmd.Context())
	if err != nil {
		return err
	}
	defer tc.Close()
	return watch(cmd, g, tc, cfg.Temporal, wait, start, waitFor, print)
}

// watch is startAndWatch once connected.
func watch[R any](cmd *cobra.Command, g *globals, tc client.Client, tcfg config.Temporal, wait bool,
	start func(context.Context, client.Client, string) (client.WorkflowRun, error),
	waitFor func(context.Context, client.Client, client.WorkflowRun, io.Writer, bool) (*R, error),
	print func(io.Writer, *R)) error {
	ctx := cmd.Context()
	run, err := start(ctx, tc, tcfg.ControlTaskQueue)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !wait {
		if g.jsonOut {
			return g.printJSON(out, map[string]string{"workflowId": run.GetID(), "runId": run.GetRunID()})
		}
		fmt.Fprintf(out, "started %s (run %s)\nwatch it with --wait, the Temporal Web UI, or `%s`\n",
			run.GetID(), run.GetRunID(), describeCommand(tcfg, run.GetID()))
		return nil
	}
	res, err := waitFor(ctx, tc, run, cmd.ErrOrStderr(), !g.jsonOut)
	if err != nil {
		if ctx.Err() == nil && lostServer(err) {
			return &LostServerError{Address: tcfg.Address, WorkflowID: run.GetID(), Describe: describeCommand(tcfg, run.GetID()), Err: err}
		}
		return err
	}
	if g.jsonOut {
		return g.printJSON(out, res)
	}
	print(out, res)
	return nil
}

// LostServerError: the wait for a workflow ended because the Temporal server stopped
// answering, not because the workflow ended. The workflow lives in Temporal, not in this
// process, so it may well still be running.
type LostServerError struct {
	Address    string
	WorkflowID string
	Describe   string // the command that shows the workflow again
	Err        error
}

func (e *LostServerError) Error() string {
	return fmt.Sprintf("lost the connection to the Temporal server at %s while waiting for workflow %s (%v).\n"+
		"The workflow was started and may still be running: it runs in Temporal, not in this command.\n"+
		"When the server answers again, look at it with\n  %s\nor in the Temporal Web UI",
		e.Address, e.WorkflowID, e.Err, e.Describe)
}

func (e *LostServerError) Unwrap() error { return e.Err }

// lostServer tells a wait that failed because the server went away (no answer in time, or
// the connection refused) from one that failed because the workflow did.
func lostServer(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var canceled *serviceerror.Canceled
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &canceled) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// describeCommand is the stock Temporal CLI command that shows a workflow on this server.
func describeCommand(tcfg config.Temporal, id string) string {
	c := "temporal workflow describe --workflow-id " + shellQuote(id)
	if tcfg.Address != "" {
		c += " --address " + shellQuote(tcfg.Address)
	}
	if tcfg.Namespace != "" && tcfg.Namespace != "default" {
		c += " --namespace " + shellQuote(tcfg.Namespace)
	}
	return c
}

// shellQuote leaves plain words alone and single-quotes the rest, so a printed command can
// be pasted.
func shellQuote(s string) string {
	if s != "" && s[0] != '~' && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@%+=,~", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
