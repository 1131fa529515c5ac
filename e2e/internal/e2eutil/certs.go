package e2eutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"time"
)

// serverCerts is a fresh CA and a server certificate it signed for localhost and the
// loopback addresses.
type serverCerts struct {
	ca       *x509.Certificate
	caPEM    []byte
	chainPEM []byte // the server certificate, then the CA
	keyPEM   []byte // the server's private key, PKCS #8
}

// newServerCerts generates a CA and a server certificate valid from an hour before now
// for a day.
func newServerCerts(now time.Time) (*serverCerts, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, errorf("generating the CA key: %w", err)
	}
	caTmpl := certTemplate(now, "qlik-oidc-bridge e2e CA")
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, errorf("creating the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, errorf("parsing the CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, errorf("generating the server key: %w", err)
	}
	tmpl := certTemplate(now, "localhost")
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.DNSNames = []string{"localhost"}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, errorf("creating the server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, errorf("encoding the server key: %w", err)
	}

	caPEM := pemBlock("CERTIFICATE", caDER)
	return &serverCerts{
		ca:       ca,
		caPEM:    caPEM,
		chainPEM: append(pemBlock("CERTIFICATE", der), caPEM...),
		keyPEM:   pemBlock("PRIVATE KEY", keyDER),
	}, nil
}

// certTemplate returns a template with a random serial number and a day's validity.
func certTemplate(now time.Time, cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"qlik-oidc-bridge e2e"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// SPKIHash returns the base64 SHA-256 hash of cert's public key, the form Chromium's
// --ignore-certificate-errors-spki-list takes.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
