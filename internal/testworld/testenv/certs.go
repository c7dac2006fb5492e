package testenv

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
	"time"
)

// CA is a throwaway certificate authority for tests: it lets a test stand up HTTPS servers
// under made-up DNS names (agent.sqlvault.test, blob.sqlsim.test) that a client trusts only
// when given this CA's pool, which is how "the SQL Server host trusts the agent's
// certificate" is modelled without touching the system trust store.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// NewCA generates a fresh CA key and self-signed certificate, valid for a day.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testenv: CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sqlvault test CA", Organization: []string{"sqlvault tests"}},
		NotBefore:             time.Now().Add(-time.Hour), // tolerate small clock skew
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("testenv: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testenv: CA certificate: %w", err)
	}
	return &CA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Pool returns a pool that trusts only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// PEM returns the CA certificate in PEM form (for processes that take a CA file).
func (ca *CA) PEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Issue creates a server certificate for names plus 127.0.0.1 and ::1 (so the same server
// is also reachable by IP, e.g. by an SDK client that sets up test data), and writes it and
// its key as PEM files into dir. A name that is an IP address (say the loopback address
// from Loopback443) becomes an IP address of the certificate. The file names are unique,
// so one dir can hold several certificates.
func (ca *CA) Issue(dir string, names ...string) (certFile, keyFile string, err error) {
	if len(names) == 0 || net.ParseIP(names[0]) != nil {
		return "", "", errors.New("testenv: Issue needs a DNS name first")
	}
	var dnsNames []string
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, n)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("testenv: server key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", fmt.Errorf("testenv: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("testenv: server key: %w", err)
	}
	certFile, err = writePEM(dir, "cert-*.pem", "CERTIFICATE", der)
	if err != nil {
		return "", "", err
	}
	keyFile, err = writePEM(dir, "key-*.pem", "PRIVATE KEY", keyDER)
	if err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func writePEM(dir, pattern, blockType string, der []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: blockType, Bytes: der}); err != nil {
		return "", fmt.Errorf("testenv: write %s: %w", filepath.Base(f.Name()), err)
	}
	return f.Name(), f.Close()
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("testenv: serial: %w", err)
	}
	return n, nil
}
