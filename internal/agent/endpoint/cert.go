package endpoint

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// certValidity is how long the generated CA and server certificate are valid.
const certValidity = 2 * 365 * 24 * time.Hour

// File names GenerateSelfSigned writes in its directory. The CA ends in .crt because
// update-ca-certificates only picks up that extension, and Windows opens it by
// double-click too.
const (
	caFileName   = "sqlvault-endpoint-ca.crt"
	certFileName = "sqlvault-endpoint.crt"
	keyFileName  = "sqlvault-endpoint.key"
)

// GenerateSelfSigned creates, in dir, a private CA and a server certificate for host
// signed by it (ECDSA P-256, valid 2 years), for an agent endpoint that has no certificate
// from the organisation's PKI. The operator makes the SQL Server host trust caFile (see
// TrustInstructions); the agent serves certFile and keyFile.
//
// The CA's private key is never written: a CA in a machine's root store whose key lies on
// disk would let anyone who reads it impersonate any site to that machine. For the same
// reason the CA is name-constrained to host. Renewing means generating (and trusting) a
// new pair. Existing files are never overwritten, so a second run cannot silently
// replace a CA that SQL Server already trusts.
func GenerateSelfSigned(host, dir string) (certFile, keyFile, caFile string, err error) {
	if host == "" || net.ParseIP(host) != nil || strings.ContainsAny(host, "/\\: ") {
		return "", "", "", fmt.Errorf("endpoint: certificate host must be a DNS name, got %q", host)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", fmt.Errorf("endpoint: CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: "sqlvault endpoint CA for " + host, Organization: []string{"sqlvault"}},
		NotBefore:                   now.Add(-time.Hour), // tolerate clock skew between agent and SQL Server host
		NotAfter:                    now.Add(certValidity),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{host},
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", fmt.Errorf("endpoint: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", "", fmt.Errorf("endpoint: CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", fmt.Errorf("endpoint: server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", "", fmt.Errorf("endpoint: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", "", fmt.Errorf("endpoint: server key: %w", err)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", "", fmt.Errorf("endpoint: %w", err)
	}
	certFile = filepath.Join(dir, certFileName)
	keyFile = filepath.Join(dir, keyFileName)
	caFile = filepath.Join(dir, caFileName)
	for _, f := range []string{certFile, keyFile, caFile} {
		if _, err := os.Stat(f); err == nil {
			return "", "", "", fmt.Errorf("endpoint: %s already exists; remove it to generate a new certificate (and trust the new CA)", f)
		}
	}
	// The server certificate file carries the chain, so clients that do not have the CA
	// yet still get a complete chain to show in their error.
	chain := append(pemBlock("CERTIFICATE", der), pemBlock("CERTIFICATE", caDER)...)
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{keyFile, pemBlock("PRIVATE KEY", keyDER), 0o600},
		{certFile, chain, 0o644},
		{caFile, pemBlock("CERTIFICATE", caDER), 0o644},
	}
	for _, f := range files {
		if err := writeNew(f.path, f.data, f.mode); err != nil {
			return "", "", "", err
		}
	}
	return certFile, keyFile, caFile, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("endpoint: write %s: %w", path, err)
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// TrustInstructions tells an operator how to make the SQL Server host trust caFile and
// reach the agent under host, on Windows and on Linux.
func TrustInstructions(host, caFile string) string {
	base := filepath.Base(caFile)
	ip, _, _ := net.SplitHostPort(DefaultListen)
	var b strings.Builder
	fmt.Fprintf(&b, `SQL Server reaches the sqlvault agent at https://%[1]s/ (port 443: SQL Server refuses a backup
URL with a port) and checks its certificate like any HTTPS client. Make the SQL Server host
trust the agent's CA (%[2]s) and resolve %[1]s to the address the agent listens on
(agent.endpoint.listen; by default %[4]s, a loopback address of its own on the SQL Server VM).
The CA can only vouch for %[1]s (it is name-constrained) and its private key was not kept.

Windows (SQL Server on Windows), in an elevated PowerShell on the SQL Server host:
  1. Copy %[2]s to the host, e.g. to C:\sqlvault\%[3]s
  2. Import it into the machine's trusted roots (LocalMachine\Root, not the user store):
       Import-Certificate -FilePath C:\sqlvault\%[3]s -CertStoreLocation Cert:\LocalMachine\Root
     or: certlm.msc > Trusted Root Certification Authorities > Certificates >
         All Tasks > Import... > select the file.
  3. Add the agent's address to C:\Windows\System32\drivers\etc\hosts:
       %[4]s  %[1]s
  4. Check: Invoke-WebRequest https://%[1]s/ must fail with 403 (Forbidden),
     not with a trust or name error. If BACKUP still reports a certificate error,
     restart the SQL Server service.

Linux (SQL Server on Linux), on the SQL Server host:
  1. sudo cp %[3]s /usr/local/share/ca-certificates/%[3]s   (the name must end in .crt)
  2. sudo update-ca-certificates
     (RHEL: sudo cp %[3]s /etc/pki/ca-trust/source/anchors/ && sudo update-ca-trust)
  3. Add the agent's address to /etc/hosts:
       %[4]s  %[1]s
  4. sudo systemctl restart mssql-server   (SQL Server reads the trust store at start)
  5. Check: curl -sS -o /dev/null -w '%%{http_code}\n' https://%[1]s/ prints 403.

If the agent runs on another machine, or listens elsewhere, put that address in the hosts
file instead of %[4]s; SQL Server still connects to port 443 there.
`, host, caFile, base, ip)
	return b.String()
}

// checkKeyFileMode refuses a private key file that group or others may read or write, as
// the vault key file is refused (blockcrypt.LoadKeyFile): whoever reads it can impersonate
// the endpoint to SQL Server. Windows has ACLs, not mode bits: there it is skipped.
func checkKeyFileMode(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil // LoadX509KeyPair reports it
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("endpoint: key file %s has mode %04o: a private key must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	return nil
}
