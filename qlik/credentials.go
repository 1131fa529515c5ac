package qlik

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// CertFiles names the PEM files that the QMC exports for a site. The zero value names none and
// is refused by LoadCredentials.
type CertFiles struct {
	ClientCert string // path of client.pem, the certificate the bridge presents
	ClientKey  string // path of client_key.pem, its private key, exported without a password
	RootCA     string // path of root.pem, the site's CA: the only CA the nodes are checked against
}

// Credentials hold the client certificate and the site's root CA, loaded once and shared by
// nodes. The zero value holds nothing and is refused by NewNode; use LoadCredentials.
type Credentials struct {
	files CertFiles
	cert  tls.Certificate
	roots *x509.CertPool
}

// LoadCredentials reads and checks the three PEM files. An error names the file and says what
// is wrong with it.
func LoadCredentials(files CertFiles) (*Credentials, error) {
	certPEM, err := readPEM("client certificate", files.ClientCert)
	if err != nil {
		return nil, err
	}
	if _, err := parseCerts(certPEM); err != nil {
		return nil, fmt.Errorf("qlik: client certificate %s: %w", files.ClientCert, err)
	}
	keyPEM, err := readPEM("client key", files.ClientKey)
	if err != nil {
		return nil, err
	}
	if err := checkKeyPEM(keyPEM); err != nil {
		return nil, fmt.Errorf("qlik: client key %s: %w", files.ClientKey, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("qlik: client key %s cannot be used with client certificate %s: %w",
			files.ClientKey, files.ClientCert, err)
	}
	rootPEM, err := readPEM("root certificate", files.RootCA)
	if err != nil {
		return nil, err
	}
	roots, err := parseCerts(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("qlik: root certificate %s: %w", files.RootCA, err)
	}
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	return &Credentials{files: files, cert: cert, roots: pool}, nil
}

// Leaf returns the client certificate, e.g. to report its subject and expiry at start.
func (c *Credentials) Leaf() *x509.Certificate { return c.cert.Leaf }

func readPEM(what, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("qlik: %s: no file given", what)
	}
	b, err := os.ReadFile(path)
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err // the path is named once, below
	}
	if err != nil {
		return nil, fmt.Errorf("qlik: %s %s: %w", what, path, err)
	}
	return b, nil
}

// parseCerts returns the CERTIFICATE blocks of a PEM file; there must be at least one.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found (export the certificates " +
			"from the QMC in the Platform independent PEM-format)")
	}
	return certs, nil
}

// checkKeyPEM finds the private key block and refuses an encrypted one with a clear message.
func checkKeyPEM(data []byte) error {
	var seen []string
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			seen = append(seen, block.Type)
			continue
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" ||
			strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return errors.New("the private key is encrypted; export the certificates from " +
				"the QMC again and leave the password empty")
		}
		return nil
	}
	if len(seen) > 0 {
		return fmt.Errorf("no PEM PRIVATE KEY block found, only %s", strings.Join(seen, ", "))
	}
	return errors.New("no PEM PRIVATE KEY block found")
}

// tlsConfig returns the client TLS configuration for a node whose certificate must hold
// serverName. now, if not nil, is the clock for certificate validity.
//
// InsecureSkipVerify is set ONLY so that crypto/tls hands the verification to
// VerifyConnection, which always runs and does the whole check itself: the chain against
// root.pem alone (never the system roots), then the name. The standard check cannot be used
// because it ignores the subject CN, and a node certificate made by Qlik may hold its host name
// only there. There is no setting that turns verification off.
func (c *Credentials) tlsConfig(serverName string, now func() time.Time) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		Time:       now,
		// Present the certificate whatever CAs the node asks for, so that a refusal comes
		// from the node as an alert that names the problem.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &c.cert, nil
		},
		InsecureSkipVerify: true, // verification is done by VerifyConnection, see above
		VerifyConnection: func(cs tls.ConnectionState) error {
			return c.verifyNode(cs, serverName, now)
		},
	}
}

// verifyNode checks the node's certificate chain against root.pem and its name.
func (c *Credentials) verifyNode(cs tls.ConnectionState, name string, now func() time.Time) error {
	if len(cs.PeerCertificates) == 0 {
		return &TLSError{Err: errors.New("the node sent no certificate")}
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{
		Roots:         c.roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if now != nil {
		opts.CurrentTime = now()
	}
	for _, ic := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return c.chainError(err)
	}
	if !nameMatches(leaf, name) {
		return nameError(leaf, name)
	}
	return nil
}

func nameError(leaf *x509.Certificate, name string) *TLSError {
	names := certNames(leaf)
	if len(names) == 0 {
		return &TLSError{Names: names,
			Err:  fmt.Errorf("the node's certificate holds no host name, not %q", name),
			Hint: "give the node a certificate for its host name in the QMC"}
	}
	quoted := make([]string, len(names))
	for i, s := range names {
		quoted[i] = strconv.Quote(s)
	}
	return &TLSError{Names: names,
		Err: fmt.Errorf("the node's certificate holds %s, not %q",
			strings.Join(quoted, ", "), name),
		Hint: "set server_name to one of these names or use it in the node URL"}
}

func (c *Credentials) chainError(err error) *TLSError {
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return &TLSError{File: c.files.RootCA, Err: err,
			Hint: "the node's certificate is not signed by the CA in root.pem; " +
				"export root.pem from the QMC of this site"}
	}
	return &TLSError{Err: err, Hint: "the node's certificate is not valid: " +
		"check its dates and key usage in the QMC"}
}

// nameMatches checks name against the DNS and IP subject alternative names or, when the
// certificate holds none, against the subject CN.
func nameMatches(cert *x509.Certificate, name string) bool {
	if len(cert.DNSNames) > 0 || len(cert.IPAddresses) > 0 {
		return cert.VerifyHostname(name) == nil
	}
	cn := strings.TrimSuffix(cert.Subject.CommonName, ".")
	return cn != "" && strings.EqualFold(cn, strings.TrimSuffix(name, "."))
}

// certNames lists the names nameMatches accepts for cert.
func certNames(cert *x509.Certificate) []string {
	if len(cert.DNSNames) == 0 && len(cert.IPAddresses) == 0 {
		if cert.Subject.CommonName == "" {
			return []string{}
		}
		return []string{cert.Subject.CommonName}
	}
	names := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
