package host

import (
	"context"
	"crypto/sha1" //nolint:gosec // certutil names certificates by their SHA-1 thumbprint; not used for security
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TrustStore is the machine's store of trusted root certificates, where setup puts the
// endpoint's CA so that SQL Server accepts the endpoint's certificate.
type TrustStore interface {
	// Add trusts the CA in caPEM under name and reports whether the store changed.
	Add(ctx context.Context, name string, caPEM []byte) (bool, error)
	// Remove stops trusting the CA Add put there and reports whether the store changed.
	Remove(ctx context.Context, name string, caPEM []byte) (bool, error)
}

// Linux trust store folders: Debian/Ubuntu and SUSE read update-ca-certificates' folder,
// RHEL and its relatives update-ca-trust's. SQL Server on Linux reads the system store.
const (
	DebianCADir = "/usr/local/share/ca-certificates"
	RedHatCADir = "/etc/pki/ca-trust/source/anchors"
)

// LinuxTrust puts the CA in the distribution's local CA folder and runs its update tool.
type LinuxTrust struct {
	Root   Root
	Runner Runner
}

// dir picks the folder and the tool the distribution has: the Red Hat layout when its
// folder exists, else Debian's.
func (t LinuxTrust) dir() (dir, tool string) {
	if st, err := os.Stat(t.Root.Path(RedHatCADir)); err == nil && st.IsDir() {
		return RedHatCADir, "update-ca-trust"
	}
	return DebianCADir, "update-ca-certificates"
}

// File is where Add puts the CA named name (under the root).
func (t LinuxTrust) File(name string) string {
	dir, _ := t.dir()
	return t.Root.Path(filepath.Join(dir, name+".crt")) // update-ca-certificates reads *.crt only
}

func (t LinuxTrust) Add(ctx context.Context, name string, caPEM []byte) (bool, error) {
	if _, err := parseCA(caPEM); err != nil {
		return false, err
	}
	dir, tool := t.dir()
	if err := os.MkdirAll(t.Root.Path(dir), 0o755); err != nil {
		return false, err
	}
	changed, err := writeFileIfChanged(t.File(name), caPEM, 0o644)
	if err != nil || !changed {
		return changed, err
	}
	if _, err := t.Runner.Run(ctx, tool); err != nil {
		return true, fmt.Errorf("trust store: %w", err)
	}
	return true, nil
}

func (t LinuxTrust) Remove(ctx context.Context, name string, _ []byte) (bool, error) {
	_, tool := t.dir()
	removed, err := removeIfExists(t.File(name))
	if err != nil || !removed {
		return removed, err
	}
	args := []string{}
	if tool == "update-ca-certificates" {
		args = append(args, "--fresh") // drops the link to the removed file from /etc/ssl/certs
	}
	if _, err := t.Runner.Run(ctx, tool, args...); err != nil {
		return true, fmt.Errorf("trust store: %w", err)
	}
	return true, nil
}

// WindowsTrust uses certutil (part of every Windows) on the LocalMachine Root store, the
// store SQL Server's BACKUP TO URL checks. Going through certutil keeps the Windows side a
// list of program calls that the tests check on Linux.
type WindowsTrust struct {
	Runner Runner
	// Dir is where the temporary file certutil reads is written ("": the temp folder).
	Dir string
}

func (t WindowsTrust) Add(ctx context.Context, name string, caPEM []byte) (bool, error) {
	cert, err := parseCA(caPEM)
	if err != nil {
		return false, err
	}
	thumb := Thumbprint(cert)
	if _, err := t.Runner.Run(ctx, "certutil", "-store", "Root", thumb); err == nil {
		return false, nil // already trusted
	}
	// certutil reads a file; a temporary one, so that nothing stays behind.
	f, err := os.CreateTemp(t.Dir, name+"-*.crt")
	if err != nil {
		return false, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(caPEM)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	if _, err := t.Runner.Run(ctx, "certutil", "-f", "-addstore", "Root", f.Name()); err != nil {
		return false, fmt.Errorf("trust store: %w", err)
	}
	return true, nil
}

func (t WindowsTrust) Remove(ctx context.Context, _ string, caPEM []byte) (bool, error) {
	cert, err := parseCA(caPEM)
	if err != nil {
		return false, err
	}
	thumb := Thumbprint(cert)
	if _, err := t.Runner.Run(ctx, "certutil", "-store", "Root", thumb); err != nil {
		return false, nil // not there
	}
	if _, err := t.Runner.Run(ctx, "certutil", "-delstore", "Root", thumb); err != nil {
		return false, fmt.Errorf("trust store: %w", err)
	}
	return true, nil
}

// Thumbprint is the certificate's SHA-1 thumbprint as Windows shows it (lower-case hex).
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // an identifier, as Windows uses it
	return hex.EncodeToString(sum[:])
}

// parseCA reads the first certificate of caPEM and checks it is a CA.
func parseCA(caPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("trust store: the CA file holds no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	if !c.IsCA {
		return nil, fmt.Errorf("trust store: %q is not a CA certificate; trust the CA that signed the endpoint's certificate", strings.TrimSpace(c.Subject.CommonName))
	}
	return c, nil
}
