package starter

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
)

func newCodecCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "codec",
		Short: "The Temporal payload codec's key file: create it, add a key",
		Long: `Temporal payloads (workflow and activity inputs and results, failures, heartbeats,
schedule actions) are encrypted with AES-256-GCM when codec.keyFile is set. The codec key
file holds codec keys wrapped under the vault's KEK (key.*: the key file, or the Key Vault
key), newest first: the first encrypts, all decrypt. Every worker (both roles), the CLI and
the codec server need the same codec key file and the KEK. See README "Payload encryption
and the codec server".`,
	}
	cmd.AddCommand(newCodecInitCmd(g), newCodecRotateCmd(g), newCodecRewrapCmd(g), newCodecExportCmd(g))
	return cmd
}

// codecTarget is the codec key file and the KEK that wraps it, from the configuration.
func (g *globals) codecTarget() (keys.KEK, string, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, "", err
	}
	if cfg.Codec.KeyFile == "" {
		return nil, "", errors.New("no codec key file named: give --codec-key-file PATH (or SQLVAULT_CODEC_KEY_FILE, or codec.keyFile in --config)")
	}
	kek, err := keys.OpenKEK(cfg.Key)
	if err != nil {
		return nil, "", fmt.Errorf("the codec key file is wrapped under the KEK of key.*: %w", err)
	}
	return kek, cfg.Codec.KeyFile, nil
}

func newCodecInitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init --codec-key-file PATH",
		Short: "Create the codec key file with one new codec key (never overwrites one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kek, path, err := g.codecTarget()
			if err != nil {
				return err
			}
			id, err := payloadcodec.Init(cmd.Context(), kek, path, time.Now())
			if err != nil {
				return err
			}
			return g.codecReport(cmd, path, id, "created")
		},
	}
}

func newCodecRotateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate --codec-key-file PATH",
		Short: "Add a new active codec key; the earlier ones stay to read the histories they encrypted",
		Long: `A new codec key, wrapped under the KEK, becomes the first (active) key of the file; the
earlier keys stay, for decoding only. Copy the new file to every worker, the CLI's machines
and the codec server, then restart the workers: until a process is restarted it encrypts
with the key it loaded, which every process holding either file can still read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kek, path, err := g.codecTarget()
			if err != nil {
				return err
			}
			id, err := payloadcodec.Rotate(cmd.Context(), kek, path, time.Now())
			if err != nil {
				return err
			}
			return g.codecReport(cmd, path, id, "rotated")
		},
	}
}

func newCodecRewrapCmd(g *globals) *cobra.Command {
	var previous string
	cmd := &cobra.Command{
		Use:   "rewrap --codec-key-file PATH [--previous-kek-file PATH]",
		Short: "Wrap the codec keys again under the KEK configured now (after `sqlvault key rotate --kek`)",
		Long: `After a KEK rotation the codec key file is still wrapped under the old KEK. rewrap
unwraps each codec key with the previous KEK (--previous-kek-file, the key file configured
until now; for Key Vault the key's older versions still unwrap, so none is needed) and wraps it
under the KEK configured now (key.*). The keys themselves do not change: histories stay
readable. Copy the file to every worker, the CLI and the codec server with the new KEK.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kek, path, err := g.codecTarget()
			if err != nil {
				return err
			}
			prev, err := previousKEK(previous)
			if err != nil {
				return err
			}
			ids, err := payloadcodec.Rewrap(cmd.Context(), kek, prev, path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.jsonOut {
				return g.printJSON(out, struct {
					File      string   `json:"file"`
					Rewrapped []string `json:"rewrapped"`
				}{path, ids})
			}
			if len(ids) == 0 {
				fmt.Fprintf(out, "every codec key in %s is already wrapped under the current KEK\n", path)
				return nil
			}
			fmt.Fprintf(out, "rewrapped %d codec key(s) in %s under the current KEK: %v\n", len(ids), path, ids)
			return nil
		},
	}
	cmd.Flags().StringVar(&previous, "previous-kek-file", "", "the vault key file that was the KEK until now (file provider)")
	return cmd
}

func newCodecExportCmd(g *globals) *cobra.Command {
	var vm, out string
	cmd := &cobra.Command{
		Use:   "export --vm NAME --out PATH",
		Short: "Write the codec key file for a VM with a KEK of its own (key.scope vm), wrapped under that KEK",
		Long: `An agent with its own KEK (key.scope: vm, see "Per-VM keys" in the README) does not hold
the fleet KEK the codec key file is wrapped under. export unwraps the codec keys with the
fleet KEK (key.*) and writes a copy wrapped under the VM's own KEK (key.vms.NAME) at --out:
the same codec keys, so the VM decodes what the control side encodes. Give the copy to that
VM's worker as codec.keyFile (mode 0600), and export again after every codec rotate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vm == "" || out == "" {
				return errors.New("codec export needs --vm NAME (a VM of key.vms) and --out PATH (where the VM's copy is written)")
			}
			kek, path, err := g.codecTarget()
			if err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			vmKEK, err := keys.OpenVMKEK(cfg.Key, vm)
			if err != nil {
				return err
			}
			ids, err := payloadcodec.Export(cmd.Context(), kek, vmKEK, path, out)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if g.jsonOut {
				return g.printJSON(w, struct {
					File string   `json:"file"`
					VM   string   `json:"vm"`
					Keys []string `json:"keys"`
				}{out, vm, ids})
			}
			fmt.Fprintf(w, "wrote %s: %d codec key(s) of %s wrapped under VM %s's own KEK; set it as codec.keyFile on that VM's worker\n", out, len(ids), path, vm)
			return nil
		},
	}
	cmd.Flags().StringVar(&vm, "vm", "", "the VM (a name under key.vms) whose own KEK wraps the copy")
	cmd.Flags().StringVar(&out, "out", "", "where to write the VM's codec key file")
	return cmd
}

func (g *globals) codecReport(cmd *cobra.Command, path, id, action string) error {
	kf, err := payloadcodec.ReadKeyFile(path)
	if err != nil {
		return err
	}
	ids := make([]string, len(kf.Keys))
	for i, k := range kf.Keys {
		ids[i] = k.ID
	}
	out := cmd.OutOrStdout()
	if g.jsonOut {
		return g.printJSON(out, struct {
			File   string   `json:"file"`
			Active string   `json:"active"`
			Keys   []string `json:"keys"`
		}{path, id, ids})
	}
	fmt.Fprintf(out, "codec key file %s %s: active codec key %s (%d key(s), wrapped under %s)\n", path, action, id, len(ids), kf.Keys[0].KEK)
	fmt.Fprintf(out, "set codec.keyFile (--codec-key-file, %s) to it on every worker, the CLI and the codec server; keep it with the vault key's escrow\n", codecEnv)
	return nil
}

// codecEnv is the environment variable of codec.keyFile (config's override table).
const codecEnv = "SQLVAULT_CODEC_KEY_FILE"
