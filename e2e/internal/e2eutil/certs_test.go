package e2eutil

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestServerCertsChainToTheCA(t *testing.T) {
	now := time.Now()
	c, err := newServerCerts(now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(c.chainPEM, c.keyPEM)
	if err != nil {
		t.Fatalf("chain and key do not match: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(c.caPEM)
	if block == nil || !c.ca.Equal(mustParse(t, block.Bytes)) {
		t.Fatal("caPEM does not hold the CA")
	}

	roots := x509.NewCertPool()
	roots.AddCert(c.ca)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		t.Run(name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now})
			if err != nil {
				t.Errorf("server certificate does not verify for %s: %v", name, err)
			}
		})
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots}); err == nil {
		t.Error("server certificate verifies for example.com")
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestHostRules(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
		want  string
	}{
		{"none", nil,
			"MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]"},
		{"listed", []string{"qlik.test", "idp.test"},
			"MAP qlik.test 127.0.0.1, MAP idp.test 127.0.0.1, " +
				"MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostRules(tt.hosts); got != tt.want {
				t.Errorf("hostRules = %q, want %q", got, tt.want)
			}
		})
	}
}
