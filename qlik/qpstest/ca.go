package qpstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
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

// Names of the files that Start writes into Config.CertDir, as the QMC exports them.
const (
	ClientCertFile = "client.pem"
	ClientKeyFile  = "client_key.pem"
	RootCAFile     = "root.pem"
)

// ClientCommonName is the subject common name of the client certificate, as the QMC issues it.
const ClientCommonName = "QlikClient"

// certValidity is how long generated certificates stay valid. Certificates use the real
// clock, not Config.Now, because TLS verification on both ends uses the real clock.
const certValidity = 365 * 24 * time.Hour

// authority is a certificate authority that signs the certificates of one simulated site.
// The authority and the server certificates use ECDSA P-256 keys, which are quick to make;
// only the client key is RSA, because client_key.pem is a PKCS #1 RSA key as the QMC exports
// it and a module must read that format.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// issued is a certificate with its key.
type issued struct {
	der []byte
	key crypto.Signer
}

// newAuthority creates a self-signed root named CN=<cn>.
func newAuthority(cn string) (*authority, error) {
	key, err := newKey(false)
	if err != nil {
		return nil, err
	}
	tmpl, err := baseTemplate(cn)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("qpstest: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("qpstest: parse CA certificate: %w", err)
	}
	return &authority{cert: cert, key: key}, nil
}

// newKey returns a new RSA 2048 key, or an ECDSA P-256 key when rsaKey is false.
func newKey(rsaKey bool) (crypto.Signer, error) {
	var key crypto.Signer
	var err error
	if rsaKey {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("qpstest: generate key: %w", err)
	}
	return key, nil
}

// issue signs a leaf certificate made from tmpl for a new key.
func (a *authority) issue(tmpl *x509.Certificate, rsaKey bool) (issued, error) {
	key, err := newKey(rsaKey)
	if err != nil {
		return issued{}, err
	}
	if rsaKey {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return issued{}, fmt.Errorf("qpstest: sign %s: %w", tmpl.Subject.CommonName, err)
	}
	return issued{der: der, key: key}, nil
}

// pool returns a certificate pool that holds only this authority.
func (a *authority) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.cert)
	return p
}

// baseTemplate returns a template named CN=<cn> with a random serial number.
func baseTemplate(cn string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("qpstest: serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
	}, nil
}

// leafTemplate returns a template for an end-entity certificate with the given usage.
func leafTemplate(cn string, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	tmpl, err := baseTemplate(cn)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	return tmpl, nil
}

// addSAN puts host into the template's subject alternative names, as an IP or a DNS name.
func addSAN(tmpl *x509.Certificate, host string) {
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		return
	}
	tmpl.DNSNames = append(tmpl.DNSNames, host)
}

// issueServer issues the REST server certificate CN=<host>; with san, host is also a SAN.
// Without san the certificate carries the name only in its CN, which Go's standard
// verification ignores: clients must check the CN themselves.
func (a *authority) issueServer(host string, san bool) (issued, error) {
	tmpl, err := leafTemplate(host, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return issued{}, err
	}
	if san {
		addSAN(tmpl, host)
	}
	return a.issue(tmpl, false)
}

// issueSite issues the browser-side certificate, with host in its SANs.
func (a *authority) issueSite(host string) (issued, error) {
	tmpl, err := leafTemplate(host, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return issued{}, err
	}
	addSAN(tmpl, host)
	return a.issue(tmpl, false)
}

// issueClient issues a client certificate CN=QlikClient for an RSA key.
func (a *authority) issueClient() (issued, error) {
	tmpl, err := leafTemplate(ClientCommonName, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return issued{}, err
	}
	return a.issue(tmpl, true)
}

// tlsCertificate returns c as a certificate a TLS server presents, with its chain.
func (c issued) tlsCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.der}, PrivateKey: c.key}
}

// writeClientFiles writes the client certificate and its PKCS #1 key into dir.
func (c issued) writeClientFiles(dir, certName, keyName string) (string, string, error) {
	certFile := filepath.Join(dir, certName)
	keyFile := filepath.Join(dir, keyName)
	if err := writePEM(certFile, "CERTIFICATE", c.der, 0o644); err != nil {
		return "", "", err
	}
	rsaKey, ok := c.key.(*rsa.PrivateKey)
	if !ok {
		return "", "", errors.New("qpstest: client key is not RSA")
	}
	keyDER := x509.MarshalPKCS1PrivateKey(rsaKey)
	if err := writePEM(keyFile, "RSA PRIVATE KEY", keyDER, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writePEM writes one PEM block to path and sets its mode, also when the file existed.
func writePEM(path, blockType string, der []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("qpstest: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("qpstest: write %s: %w", filepath.Base(path), err)
	}
	if err := pem.Encode(f, &pem.Block{Type: blockType, Bytes: der}); err != nil {
		f.Close()
		return fmt.Errorf("qpstest: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("qpstest: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// WriteForeignClient writes a client certificate and key signed by an unrelated CA into dir,
// as foreign_client.pem and foreign_client_key.pem, for tests that must be refused at the
// TLS handshake. The certificate has the same subject as a genuine one (CN=QlikClient).
func WriteForeignClient(dir string) (certFile, keyFile string, err error) {
	ca, err := newAuthority("Foreign-CA")
	if err != nil {
		return "", "", err
	}
	client, err := ca.issueClient()
	if err != nil {
		return "", "", err
	}
	return client.writeClientFiles(dir, "foreign_client.pem", "foreign_client_key.pem")
}
