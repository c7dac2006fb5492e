// Package buildinfo reports what a sqlvault binary was built from, read from the Go build
// information the toolchain embeds (module version, VCS revision and time, Go version), and
// the `version` command every binary offers.
package buildinfo

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Info is a binary's build information. Fields the build did not record are empty: a
// `go run` or a build outside a VCS checkout has no revision, and a build from a checkout
// has the version "(devel)".
type Info struct {
	Binary    string `json:"binary"`
	Module    string `json:"module"`
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`     // the revision's commit time (RFC 3339)
	Modified  bool   `json:"modified,omitempty"` // built from a checkout with uncommitted changes
	GoVersion string `json:"goVersion"`
}

// Stamped by `make release` (-ldflags "-X github.com/sqlvault/sqlvault/internal/buildinfo.version=…
// -X …buildinfo.revision=…"): a build without VCS stamping (GOFLAGS=-buildvcs=false, a
// source archive) records neither, and a release must still say what it is.
var version, revision string

// Read is this binary's Info; read is debug.ReadBuildInfo (tests substitute it).
func Read(binary string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Binary: binary}
	bi, ok := read()
	if !ok {
		return info // not built with module support; nothing more is known
	}
	info.Module, info.Version, info.GoVersion = bi.Main.Path, bi.Main.Version, bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if version != "" && (info.Version == "" || info.Version == "(devel)") {
		info.Version = version
	}
	if revision != "" && info.Revision == "" {
		info.Revision = revision
	}
	return info
}

// String is the one-line form: "sqlvault (devel) rev 1a2b3c4d5e6f (2026-12-06T05:00:00Z, modified) go1.26.0".
func (i Info) String() string {
	v := i.Version
	if v == "" {
		v = "(unknown version)"
	}
	s := i.Binary + " " + v
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " rev " + rev
		switch {
		case i.Time != "" && i.Modified:
			s += " (" + i.Time + ", modified)"
		case i.Time != "":
			s += " (" + i.Time + ")"
		case i.Modified:
			s += " (modified)"
		}
	}
	if i.GoVersion != "" {
		s += " " + i.GoVersion
	}
	return s
}

// Print writes i as one line, or as JSON.
func (i Info) Print(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(i)
	}
	_, err := fmt.Fprintln(w, i.String())
	return err
}

// NewCommand is the `version` command of the binary named binary. Its --json is its own, so
// it works the same on a binary whose root has no --json.
func NewCommand(binary string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version this binary was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Read(binary, debug.ReadBuildInfo).Print(cmd.OutOrStdout(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
