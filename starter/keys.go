package starter

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// ring opens the vault and its keyring as the configuration describes them.
func (g *globals) ring(ctx context.Context) (*keys.Ring, *vault.Repository, *config.Config, error) {
	repo, cfg, err := g.vault(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := keys.FromConfig(cfg.Key, repo)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, repo, cfg, nil
}

// dataKey is the data key of id through the configured keyring (a deep verify decrypts).
func (g *globals) dataKey(ctx context.Context, repo *vault.Repository, cfg *config.Config, id string) (*blockcrypt.Key, error) {
	r, err := keys.FromConfig(cfg.Key, repo)
	if err != nil {
		return nil, fmt.Errorf("a deep verify decrypts the data: configure the key (--key-file, or --key-provider azurekeyvault with --key-vault-url and --key-vault-key): %w", err)
	}
	return r.Key(ctx, id)
}

func newKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "The vault's keys: rotate the data key or the KEK, show the keyring",
		Long: `Blocks are sealed with data keys; data keys are stored in the vault wrapped under the
key-encryption key (KEK) of the configured provider: a key file (key.provider: file, the
default) or an Azure Key Vault key (key.provider: azurekeyvault). See README "Keys".`,
	}
	cmd.AddCommand(newKeyRotateCmd(g), newKeyStatusCmd(g))
	return cmd
}

func newKeyRotateCmd(g *globals) *cobra.Command {
	var kek, allVMs bool
	var previous string
	var vms []string
	cmd := &cobra.Command{
		Use:   "rotate [--kek [--previous-kek-file PATH]] [--vm NAME ... | --all-vms]",
		Short: "Make a new data key for new points (--kek: re-wrap every data key under the KEK's current version)",
		Long: `Without --kek: a new random data key, wrapped under the KEK, becomes the active key.
Backups that start from now on are sealed with it; every existing point keeps its key and
restores as before. The configured key file, when it sealed points before the keyring, is
recorded in the keyring too (wrapped under the KEK), unless it is the file provider's KEK.

With --kek: every data key is wrapped again under the KEK's current version (for Key Vault,
the key's latest version: make a new one in Key Vault first; for the file provider, the key
file configured now, with --previous-kek-file naming the one configured before). No backup
data is read or written, only the records under v1/keys/. Safe to run again.

With --vm NAME (repeatable) or --all-vms (every VM of key.vms): per-VM keys. A new data key
for the VM's agent, wrapped under the fleet KEK and under the VM's own KEK (key.vms.NAME),
becomes that VM's active key: its agent (key.scope: vm) seals its backups with it and opens
no other VM's keys nor the fleet's. With --kek, the VM's keys are wrapped again under the
current version of its own KEK (a new Key Vault key version, or a new key file for the VM).
See README "Per-VM keys".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ring, _, cfg, err := g.ring(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if allVMs {
				if len(vms) > 0 {
					return fmt.Errorf("--all-vms rotates every VM of key.vms: give it or --vm, not both")
				}
				if vms = keys.VMs(cfg.Key); len(vms) == 0 {
					return fmt.Errorf("--all-vms: the configuration names no VM with a KEK of its own (key.vms)")
				}
			}
			if len(vms) > 0 {
				if previous != "" {
					return fmt.Errorf("--previous-kek-file is for the fleet KEK; a VM's keys are re-wrapped from the fleet wrapping and need no previous VM KEK")
				}
				return rotateVMs(ctx, g, out, ring, cfg, vms, kek)
			}
			if !kek {
				if previous != "" {
					return fmt.Errorf("--previous-kek-file is for --kek (re-wrapping under a new KEK)")
				}
				rec, err := ring.Rotate(ctx, ring.LocalFiles()...)
				if err != nil {
					return err
				}
				if g.jsonOut {
					return g.printJSON(out, keyView(rec))
				}
				fmt.Fprintf(out, "data key %s is now active (wrapped under %s)\nnew backups are sealed with it from their next start; existing points keep their keys\n", rec.ID, rec.KEK)
				return nil
			}
			prev, err := previousKEK(previous)
			if err != nil {
				return err
			}
			report, err := ring.RotateKEK(ctx, prev, previous)
			if g.jsonOut && err == nil {
				return g.printJSON(out, report)
			}
			printRewrap(out, report)
			if err != nil {
				return fmt.Errorf("KEK rotation stopped (the keys above are done; run it again once fixed): %w", err)
			}
			if len(report) == 0 {
				fmt.Fprintln(out, "the keyring holds no data key yet: nothing to re-wrap (`sqlvault key rotate` makes the first)")
			}
			for _, e := range report {
				if strings.Contains(e.Action, "signed") {
					// Signing vouches for a record: one planted with the KEK's public key also
					// unwraps, so the operator is the check that these are the vault's keys.
					fmt.Fprintln(out, "records above marked \"signed\" had no KEK signature (written before records were signed): check each id is a data key you made (`sqlvault key status` lists the points each key sealed); if not, delete its record and run `sqlvault key rotate`")
					break
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&kek, "kek", false, "re-wrap every data key under the KEK's current version, touching no backup data")
	cmd.Flags().StringVar(&previous, "previous-kek-file", "", "with --kek: the key file that was the KEK until now (file provider, or a move from it to Key Vault)")
	cmd.Flags().StringArrayVar(&vms, "vm", nil, "a VM with a KEK of its own (key.vms.NAME): rotate its data key (with --kek: re-wrap its keys under its KEK's current version)")
	cmd.Flags().BoolVar(&allVMs, "all-vms", false, "as --vm for every VM of key.vms")
	return cmd
}

// rotateVMs makes a new data key for each VM (kek: re-wraps each VM's keys under its own
// KEK's current version), stopping at the first failure.
func rotateVMs(ctx context.Context, g *globals, out io.Writer, ring *keys.Ring, cfg *config.Config, vms []string, kek bool) error {
	var recs []keyRecordView
	var report []keys.RewrapEntry
	for _, vm := range vms {
		vmKEK, err := keys.OpenVMKEK(cfg.Key, vm)
		if err != nil {
			return err
		}
		if kek {
			r, err := ring.RotateVMKEK(ctx, vm, vmKEK)
			report = append(report, r...)
			if err != nil {
				printRewrap(out, report)
				return fmt.Errorf("VM %s's KEK rotation stopped (the keys above are done; run it again once fixed): %w", vm, err)
			}
			continue
		}
		rec, err := ring.RotateVM(ctx, vm, vmKEK)
		if err != nil {
			return fmt.Errorf("VM %s: %w", vm, err)
		}
		recs = append(recs, keyView(rec))
		if !g.jsonOut {
			fmt.Fprintf(out, "data key %s is now VM %s's active key (wrapped under %s and its own KEK %s)\n", rec.ID, rec.Scope, rec.KEK, rec.VMWrap.KEK)
		}
	}
	switch {
	case kek && g.jsonOut:
		return g.printJSON(out, report)
	case kek:
		printRewrap(out, report)
	case g.jsonOut:
		return g.printJSON(out, recs)
	default:
		fmt.Fprintln(out, "each VM's agent (key.scope: vm) seals its new backups with its VM's key from their next start; existing points keep their keys")
	}
	return nil
}

func printRewrap(out io.Writer, report []keys.RewrapEntry) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATA KEY\tACTION\tWRAPPED UNDER")
	for _, e := range report {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.ID, e.Action, e.To)
	}
	_ = tw.Flush()
}

// keyRecordView is a data key record as the CLI prints it (the wrapped bytes left out).
type keyRecordView struct {
	ID        string    `json:"id"`
	Scope     string    `json:"scope,omitempty"`
	State     string    `json:"state"`
	Provider  string    `json:"provider"`
	KEK       string    `json:"kek"`
	Algorithm string    `json:"algorithm"`
	Created   time.Time `json:"created"`
}

func keyView(r *vault.KeyRecord) keyRecordView {
	return keyRecordView{ID: r.ID, Scope: r.Scope, State: r.State, Provider: r.Provider, KEK: r.KEK, Algorithm: r.Algorithm, Created: r.Created}
}

func newKeyStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the KEK, every data key with its state and points, and whether this machine can unwrap it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ring, _, _, err := g.ring(ctx)
			if err != nil {
				return err
			}
			st, err := ring.Status(ctx)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), st)
			}
			printKeyStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
}

func printKeyStatus(w io.Writer, st *keys.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "provider\t%s\n", st.KEK.Provider)
	fmt.Fprintf(tw, "KEK\t%s\n", st.KEK.KEK)
	if st.KEK.Detail != "" {
		fmt.Fprintf(tw, "\t%s\n", st.KEK.Detail)
	}
	if st.KEK.Error != "" {
		fmt.Fprintf(tw, "KEK error\t%s\n", st.KEK.Error)
	}
	active := st.Active
	if active == "" {
		active = "none (run `sqlvault key rotate`)"
	}
	fmt.Fprintf(tw, "active data key\t%s\n", active)
	for _, vm := range slices.Sorted(maps.Keys(st.VMActive)) {
		fmt.Fprintf(tw, "active key of VM %s\t%s\n", vm, st.VMActive[vm])
	}
	fmt.Fprintf(tw, "points\t%d in %d items\n", st.Points, st.Items)
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATA KEY\tSCOPE\tSTATE\tSOURCE\tPOINTS\tCREATED (UTC)\tWRAPPED UNDER\tUNWRAPS HERE")
	for _, k := range st.Keys {
		created := "-"
		if k.Created != nil {
			created = k.Created.UTC().Format(time.DateTime)
		}
		kek, usable := k.KEK, "yes"
		if kek == "" {
			kek = "-"
		}
		if !k.Usable {
			usable = "NO: " + k.Error
		}
		state := k.State
		if state == "" {
			state = "-"
		}
		scope := "fleet"
		if k.Scope != "" {
			scope, kek = "vm "+k.Scope, kek+" + "+k.VMKEK
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", k.ID, scope, state, k.Source, k.Points, created, kek, usable)
	}
	_ = tw.Flush()
}

// previousKEK is the key file given as --previous-kek-file (the file provider's KEK until a
// rotation), nil when none is given.
func previousKEK(path string) (keys.KEK, error) {
	if path == "" {
		return nil, nil
	}
	return keys.OpenFileKEK(path)
}
