package qpstest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCertFiles(t *testing.T) {
	t.Parallel()
	e := start(t, Config{Hostname: "localhost"})
	certFile, keyFile, rootFile := e.s.CertFiles()

	info, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("client_key.pem mode %v, want 0600", info.Mode().Perm())
	}
	if b := readPEM(t, keyFile); b.Type != "RSA PRIVATE KEY" {
		t.Fatalf("client_key.pem holds %q", b.Type)
	}
	client := parseCert(t, certFile)
	root := parseCert(t, rootFile)
	if client.Subject.CommonName != ClientCommonName {
		t.Fatalf("client CN %q", client.Subject.CommonName)
	}
	if root.Subject.CommonName != "localhost-CA" || !root.IsCA {
		t.Fatalf("root CN %q, IsCA %v", root.Subject.CommonName, root.IsCA)
	}
	if err := client.CheckSignatureFrom(root); err != nil {
		t.Fatalf("client certificate not signed by root.pem: %v", err)
	}
}

func readPEM(t *testing.T, path string) *pem.Block {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	return b
}

func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(readPEM(t, path).Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serverCert connects to the REST listener and returns the certificate it presents.
func serverCert(t *testing.T, e *env) *x509.Certificate {
	t.Helper()
	certFile, keyFile, _ := e.s.CertFiles()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var leaf *x509.Certificate
	cfg := &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // only to look at the certificate; nothing is sent
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf = cs.PeerCertificates[0]
			return nil
		},
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(e.s.RESTURL(), "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	return leaf
}

func TestServerCertificateCNOnly(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	leaf := serverCert(t, e)
	if leaf.Subject.CommonName != "localhost" || leaf.Issuer.CommonName != "localhost-CA" {
		t.Fatalf("subject %q issuer %q", leaf.Subject.CommonName, leaf.Issuer.CommonName)
	}
	if len(leaf.DNSNames) != 0 || len(leaf.IPAddresses) != 0 {
		t.Fatalf("SANs %v %v, want none", leaf.DNSNames, leaf.IPAddresses)
	}

	// Go's standard verification ignores the CN, so a module must check it itself.
	_, _, rootFile := e.s.CertFiles()
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, rootFile))
	certFile, keyFile, _ := e.s.CertFiles()
	cert, _ := tls.LoadX509KeyPair(certFile, keyFile)
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{cert}}
	_, err := tls.Dial("tcp", strings.TrimPrefix(e.s.RESTURL(), "https://"), cfg)
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Fatalf("standard verification of a CN-only certificate: %v, want a HostnameError", err)
	}
}

func TestServerCertificateWithSAN(t *testing.T) {
	t.Parallel()
	e := start(t, Config{ServerCertSAN: true})
	if leaf := serverCert(t, e); len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" {
		t.Fatalf("DNS SANs %v", leaf.DNSNames)
	}
	_, _, rootFile := e.s.CertFiles()
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, rootFile))
	certFile, keyFile, _ := e.s.CertFiles()
	cert, _ := tls.LoadX509KeyPair(certFile, keyFile)
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{cert},
	}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, e.s.RESTURL()+"/qps/alive?xrfkey="+goodKey, nil)
	req.Header.Set("X-Qlik-Xrfkey", goodKey)
	if r := send(t, &http.Client{Transport: tr}, req); r.status != 200 {
		t.Fatalf("got %d", r.status)
	}
}

func TestForeignClientCertificateRefused(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	certFile, keyFile, err := WriteForeignClient(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c := parseCert(t, certFile); c.Subject.CommonName != ClientCommonName {
		t.Fatalf("foreign client CN %q", c.Subject.CommonName)
	}
	assertRefusedAtHandshake(t, e, restClient(t, e.s, certFile, keyFile))
}

func TestNoClientCertificateRefused(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	assertRefusedAtHandshake(t, e, restClient(t, e.s, "", ""))
}

func assertRefusedAtHandshake(t *testing.T, e *env, c *http.Client) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.s.RESTURL()+"/qps/alive?xrfkey="+goodKey, nil)
	req.Header.Set("X-Qlik-Xrfkey", goodKey)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want a TLS failure", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "tls:") {
		t.Fatalf("error %v, want a TLS alert", err)
	}
	if n := len(e.s.Requests()); n != 0 {
		t.Fatalf("%d calls reached the handlers", n)
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	t.Parallel()
	with := func(vps ...VirtualProxy) Config { return Config{CertDir: "x", VirtualProxies: vps} }
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no CertDir", Config{VirtualProxies: testProxies()}},
		{"no virtual proxy", with()},
		{"prefix with capitals", with(VirtualProxy{Prefix: "BI"})},
		{"prefix with a slash", with(VirtualProxy{Prefix: "a/b"})},
		{"prefix a call name", with(VirtualProxy{Prefix: "session"})},
		{"prefix twice", with(VirtualProxy{Prefix: "a"}, VirtualProxy{Prefix: "a"})},
		{"cookie name twice", with(
			VirtualProxy{Prefix: "a", CookieName: "C"}, VirtualProxy{Prefix: "b", CookieName: "C"})},
		{"cookie name not a token", with(VirtualProxy{CookieName: "a b"})},
		{"relative module URI", with(VirtualProxy{AuthModuleRedirectURI: "/login"})},
		{"module URI with fragment",
			with(VirtualProxy{AuthModuleRedirectURI: "https://m.localhost/login#x"})},
		{"negative timeout", with(VirtualProxy{SessionTimeout: -time.Second})},
		{"relative logout URI", with(VirtualProxy{LogoutRedirectURI: "/logout"})},
		{"logout URI not http", with(VirtualProxy{LogoutRedirectURI: "javascript:alert(1)"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newServer(tc.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "qpstest: ") {
				t.Fatalf("err %v, want a qpstest error", err)
			}
		})
	}
}
