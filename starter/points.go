package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/control/catalog"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// itemFlags name a protected database: by instance and database, or by item ID.
type itemFlags struct {
	instance, database, item string
}

func (f *itemFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.instance, "instance", "", `SQL Server instance ("VM" or "VM\INSTANCE")`)
	cmd.Flags().StringVar(&f.database, "database", "", "database name")
	cmd.Flags().StringVar(&f.item, "item", "", "item ID (instead of --instance and --database)")
}

func (f *itemFlags) itemID() (string, error) {
	if f.item != "" {
		return f.item, nil
	}
	if f.instance == "" || f.database == "" {
		return "", errors.New("name the database with --instance and --database (or --item)")
	}
	return vault.ItemID(f.instance, f.database), nil
}

// points reads the named database's recovery points from the vault, oldest first.
func (f *itemFlags) points(ctx context.Context, g *globals) ([]*vault.Manifest, error) {
	item, err := f.itemID()
	if err != nil {
		return nil, err
	}
	repo, _, err := g.vault(ctx)
	if err != nil {
		return nil, err
	}
	return repo.ListPoints(ctx, item)
}

// summaries reads the named database's recovery point summaries from one vault listing,
// oldest first (what planning needs, without reading every manifest).
func (f *itemFlags) summaries(ctx context.Context, g *globals) ([]vault.PointSummary, error) {
	item, err := f.itemID()
	if err != nil {
		return nil, err
	}
	repo, _, err := g.vault(ctx)
	if err != nil {
		return nil, err
	}
	return repo.ListPointSummaries(ctx, item)
}

// manifest reads one recovery point's manifest, with the repository and configuration it
// came from (verify needs both).
// A point that is not authenticated (legacy, or no key here to check) is noted on notes.
func (f *itemFlags) manifest(ctx context.Context, g *globals, pointID string, notes io.Writer) (*vault.Repository, *config.Config, *vault.Manifest, error) {
	item, err := f.itemID()
	if err != nil {
		return nil, nil, nil, err
	}
	repo, cfg, err := g.vault(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	m, auth, err := repo.ReadManifest(ctx, item, pointID)
	if err == nil && auth != vault.AuthOK {
		fmt.Fprintf(notes, "note: recovery point %s is %s\n", pointID, auth)
	}
	return repo, cfg, m, err
}

func newListCmd(g *globals) *cobra.Command {
	var f itemFlags
	cmd := &cobra.Command{
		Use:   "list --instance NAME --database DB",
		Short: "List a database's recovery points, from the vault",
		RunE: func(cmd *cobra.Command, _ []string) error {
			points, err := f.points(cmd.Context(), g)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			rps := make([]protocol.RecoveryPoint, len(points))
			for i, m := range points {
				rps[i] = catalog.RecoveryPointOf(m)
			}
			if g.jsonOut {
				return g.printJSON(out, rps)
			}
			if len(rps) == 0 {
				fmt.Fprintln(out, "no recovery points")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POINT\tTYPE\tFINISHED (UTC)\tFIRST LSN\tLAST LSN\tSIZE\tSTORED\tPATH")
			for _, rp := range rps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rp.PointID, rp.Type, rp.FinishTime.UTC().Format(time.DateTime),
					rp.FirstLSN, rp.LastLSN, human(rp.SizeBytes), human(rp.StoredBytes), rp.DataPath)
			}
			return tw.Flush()
		},
	}
	f.bind(cmd)
	return cmd
}

func newShowCmd(g *globals) *cobra.Command {
	var f itemFlags
	cmd := &cobra.Command{
		Use:   "show POINT --instance NAME --database DB",
		Short: "Show one recovery point's manifest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, _, m, err := f.manifest(cmd.Context(), g, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), m)
			}
			printManifest(cmd.OutOrStdout(), m)
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

func newVerifyCmd(g *globals) *cobra.Command {
	var f itemFlags
	var deep bool
	cmd := &cobra.Command{
		Use:   "verify POINT --instance NAME --database DB [--deep]",
		Short: "Verify a recovery point against its blobs (--deep reads and decrypts every block)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, cfg, m, err := f.manifest(ctx, g, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := repo.VerifyStripes(ctx, m.Stripes); err != nil {
				return fmt.Errorf("recovery point %s is NOT intact: %w", m.PointID, err)
			}
			what := "index and committed blocks match"
			if deep {
				key, err := g.dataKey(ctx, repo, cfg, m.Encryption.KeyID)
				if err != nil {
					return err
				}
				if err := repo.DeepVerify(ctx, m, key); err != nil {
					return fmt.Errorf("recovery point %s is NOT intact: %w", m.PointID, err)
				}
				what = "every block decrypted and authenticated"
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), map[string]any{"pointId": m.PointID, "ok": true, "deep": deep})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "recovery point %s is intact (%s)\n", m.PointID, what)
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().BoolVar(&deep, "deep", false, "read and decrypt every block (needs the key)")
	return cmd
}

func printPoint(w io.Writer, rp protocol.RecoveryPoint) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "recovery point\t%s\n", rp.PointID)
	fmt.Fprintf(tw, "database\t%s on %s (item %s)\n", rp.Database, rp.Instance, rp.ItemID)
	fmt.Fprintf(tw, "type\t%s\n", rp.Type)
	fmt.Fprintf(tw, "LSNs\tfirst %s, last %s, checkpoint %s\n", rp.FirstLSN, rp.LastLSN, rp.CheckpointLSN)
	fmt.Fprintf(tw, "time (UTC)\t%s → %s\n", rp.StartTime.UTC().Format(time.DateTime), rp.FinishTime.UTC().Format(time.DateTime))
	fmt.Fprintf(tw, "size\t%s from SQL Server, %s stored in %d stripe(s)\n", human(rp.SizeBytes), human(rp.StoredBytes), rp.Stripes)
	fmt.Fprintf(tw, "key\t%s\n", rp.KeyID)
	if rp.DataPath != "" {
		fmt.Fprintf(tw, "data path\t%s\n", dataPathLabel(rp.DataPath))
	}
	_ = tw.Flush()
}

// dataPathLabel names a point's data path with the statement SQL Server ran.
func dataPathLabel(p string) string {
	switch p {
	case "vdi":
		return "vdi (BACKUP … TO VIRTUAL_DEVICE)"
	case "url":
		return "url (BACKUP … TO URL)"
	}
	return p
}

func printManifest(w io.Writer, m *vault.Manifest) {
	printPoint(w, catalog.RecoveryPointOf(m))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "server\t%s (%s, %s) on VM %s\n", m.Server.ServerName, m.Server.ProductVersion, m.Server.Edition, m.Server.VM)
	fmt.Fprintf(tw, "copy-only\t%v\n", m.Backup.CopyOnly)
	if m.Backup.DifferentialBaseLSN != "" {
		fmt.Fprintf(tw, "differential base\t%s\n", m.Backup.DifferentialBaseLSN)
	}
	fmt.Fprintf(tw, "encryption\t%s, key %s, compression %s\n", m.Encryption.Algorithm, m.Encryption.KeyID, m.Encryption.Compression)
	fmt.Fprintf(tw, "workflow\t%s / %s\n", m.Workflow.ID, m.Workflow.RunID)
	if m.Reason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", m.Reason)
	}
	for i, s := range m.Stripes {
		fmt.Fprintf(tw, "stripe %d\t%s (%d blocks, %s stored)\n", i+1, s.Blob, s.Blocks, human(s.StoredBytes))
	}
	_ = tw.Flush()
}

// temporalDecode decodes one heartbeat payload, which DescribeWorkflowExecution returns as
// stored: through the payload codec when one is configured (dialTemporal sets
// heartbeatConverter; the CLI dials once per process).
func temporalDecode(p *commonpb.Payload, v any) error {
	return heartbeatConverter.FromPayload(p, v)
}

// heartbeatConverter is the data converter of the CLI's Temporal client.
var heartbeatConverter = converter.GetDefaultDataConverter()

// searchAttributeDecode decodes a search attribute: always plain JSON (the SDK never runs
// them through a codec; they are for filtering).
func searchAttributeDecode(p *commonpb.Payload, v any) error {
	return converter.GetDefaultDataConverter().FromPayload(p, v)
}
