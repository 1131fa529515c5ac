package qlik

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

var discardLog = log.New(io.Discard, "", 0)

// testCA is a certificate authority made for one test, like the CA of a Qlik site.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial atomic.Int64

func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pemBlock("CERTIFICATE", der)}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// leaf describes a certificate that a testCA issues.
type leaf struct {
	cn       string
	dns      []string
	ips      []net.IP
	client   bool      // for client authentication instead of server authentication
	notAfter time.Time // zero: a day from now
}

// issue returns the certificate and its PKCS#8 key as PEM.
func (ca *testCA) issue(t testing.TB, l leaf) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t)
	der := ca.sign(t, l, key)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", pkcs8)
}

func (ca *testCA) sign(t testing.TB, l leaf, key crypto.Signer) []byte {
	t.Helper()
	usage := x509.ExtKeyUsageServerAuth
	if l.client {
		usage = x509.ExtKeyUsageClientAuth
	}
	if l.notAfter.IsZero() {
		l.notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: l.cn},
		DNSNames:     l.dns,
		IPAddresses:  l.ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     l.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (ca *testCA) serverCert(t testing.TB, l leaf) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(ca.issue(t, l))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeFiles writes client.pem, client_key.pem and root.pem into a new directory.
func writeFiles(t testing.TB, cert, key, root []byte) CertFiles {
	t.Helper()
	dir := t.TempDir()
	files := CertFiles{
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client_key.pem"),
		RootCA:     filepath.Join(dir, "root.pem"),
	}
	for path, data := range map[string][]byte{
		files.ClientCert: cert, files.ClientKey: key, files.RootCA: root,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// site is a Qlik site for one test: its CA, the files the QMC would export, and a node.
type site struct {
	ca    *testCA
	files CertFiles
	creds *Credentials
}

func newSite(t testing.TB) *site {
	t.Helper()
	ca := newCA(t, "qs-node.test-CA")
	cert, key := ca.issue(t, leaf{cn: "QlikClient", client: true})
	files := writeFiles(t, cert, key, ca.pem)
	creds, err := LoadCredentials(files)
	if err != nil {
		t.Fatal(err)
	}
	return &site{ca: ca, files: files, creds: creds}
}

// qpsServer is a TLS server that requires a client certificate, like port 4243 of a node.
type qpsServer struct {
	*httptest.Server
	handshakes atomic.Int64 // ClientHellos received
}

// startQPS starts h with the certificate cert and requires a client certificate from clientCA;
// tune, if not nil, changes the server's TLS configuration.
func startQPS(t testing.TB, h http.Handler, cert tls.Certificate, clientCA *testCA,
	tune func(*tls.Config)) *qpsServer {
	t.Helper()
	s := &qpsServer{Server: httptest.NewUnstartedServer(h)}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			s.handshakes.Add(1)
			return nil, nil
		},
	}
	if tune != nil {
		tune(s.TLS)
	}
	s.Config.ErrorLog = discardLog
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// node starts h on a node of the site whose certificate holds 127.0.0.1 and returns a client.
func (st *site) node(t testing.TB, h http.Handler) (*Node, *qpsServer) {
	t.Helper()
	cert := st.ca.serverCert(t, leaf{cn: "qs-node.test", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	srv := startQPS(t, h, cert, st.ca, nil)
	n, err := NewNode(NodeConfig{URL: srv.URL}, st.creds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.CloseIdleConnections)
	return n, srv
}
