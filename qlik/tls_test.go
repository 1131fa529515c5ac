package qlik

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

var loopback = []net.IP{net.IPv4(127, 0, 0, 1)}

// Regression: the node's certificate is checked against root.pem only, for its dates and
// server usage, and for its name: the SANs or, without SANs, the subject CN.
func TestNodeCertificate(t *testing.T) {
	st := newSite(t)
	other := newCA(t, "other-CA")
	later := func() time.Time { return time.Now().Add(48 * time.Hour) }
	tests := []struct {
		name       string
		signer     *testCA // nil: the site's CA
		leaf       leaf
		serverName string
		now        func() time.Time
		ok         bool
		names      []string // the names a mismatch reports
		root       bool     // the error names root.pem
	}{
		{name: "IP SAN matches the URL host", ok: true,
			leaf: leaf{cn: "qs-node.test", ips: loopback}},
		{name: "CN only", serverName: "qs-node.test", ok: true,
			leaf: leaf{cn: "qs-node.test"}},
		{name: "CN only in other case", serverName: "qs-node.test", ok: true,
			leaf: leaf{cn: "QS-Node.Test"}},
		{name: "DNS SAN", serverName: "qs-node.test", ok: true,
			leaf: leaf{cn: "QlikServer", dns: []string{"qs-node.test"}}},
		{name: "CN ignored beside SANs", serverName: "qs-node.test",
			leaf: leaf{cn: "qs-node.test", dns: []string{"other.test"}}, names: []string{"other.test"}},
		{name: "wrong name lists the names", serverName: "wrong.test",
			leaf:  leaf{cn: "qs", dns: []string{"a.test", "b.test"}, ips: loopback},
			names: []string{"a.test", "b.test", "127.0.0.1"}},
		{name: "CN only, URL host differs",
			leaf: leaf{cn: "qs-node.test"}, names: []string{"qs-node.test"}},
		{name: "no name at all", serverName: "qs-node.test", leaf: leaf{}, names: []string{}},
		{name: "signed by another CA", signer: other, root: true,
			leaf: leaf{cn: "qs-node.test", ips: loopback}},
		{name: "expired", now: later, leaf: leaf{cn: "qs-node.test", ips: loopback}},
		{name: "client certificate as server certificate",
			leaf: leaf{cn: "qs-node.test", ips: loopback, client: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signer := tc.signer
			if signer == nil {
				signer = st.ca
			}
			rec := &recorder{status: 200, reply: "true"}
			srv := startQPS(t, rec, signer.serverCert(t, tc.leaf), st.ca, nil)
			n, err := NewNode(NodeConfig{URL: srv.URL, ServerName: tc.serverName, Now: tc.now},
				st.creds)
			if err != nil {
				t.Fatal(err)
			}
			defer n.CloseIdleConnections()
			err = n.Alive(context.Background(), "bi")
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			te, ok := errors.AsType[*TLSError](err)
			if !ok {
				t.Fatalf("got %v, want *TLSError", err)
			}
			if len(rec.requests()) != 0 {
				t.Error("a request reached the node")
			}
			if !reflect.DeepEqual(te.Names, tc.names) {
				t.Errorf("Names %q, want %q", te.Names, tc.names)
			}
			if len(tc.names) > 0 && !strings.Contains(err.Error(), "server_name") {
				t.Errorf("a name mismatch does not mention server_name: %v", err)
			}
			for _, name := range tc.names {
				if !strings.Contains(err.Error(), `"`+name+`"`) {
					t.Errorf("the error does not list %q: %v", name, err)
				}
			}
			if tc.root != (te.File == st.files.RootCA) {
				t.Errorf("File %q, root.pem is %q", te.File, st.files.RootCA)
			}
			if tc.root && !strings.Contains(err.Error(), st.files.RootCA) {
				t.Errorf("the error does not name root.pem: %v", err)
			}
		})
	}
}

// Regression: a node that refuses the client certificate gives a *TLSError naming client.pem,
// whether it refuses in the handshake (TLS 1.2) or after it (TLS 1.3).
func TestClientCertificateRefused(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			st := newSite(t)
			other := newCA(t, "other-CA")
			cert, key := other.issue(t, leaf{cn: "QlikClient", client: true})
			files := writeFiles(t, cert, key, st.ca.pem)
			creds, err := LoadCredentials(files)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{status: 201, reply: aliceSession}
			srv := startQPS(t, rec, st.ca.serverCert(t, leaf{ips: loopback}), st.ca,
				func(c *tls.Config) { c.MaxVersion = version })
			n, err := NewNode(NodeConfig{URL: srv.URL}, creds)
			if err != nil {
				t.Fatal(err)
			}
			_, err = n.AddSession(context.Background(), "bi", alice, "s-1")
			te, ok := errors.AsType[*TLSError](err)
			if !ok {
				t.Fatalf("got %v, want *TLSError", err)
			}
			if te.File != files.ClientCert || !strings.Contains(err.Error(), files.ClientCert) {
				t.Errorf("got %v, want it to name %s", err, files.ClientCert)
			}
			if len(rec.requests()) != 0 {
				t.Error("a request reached the handler")
			}
		})
	}
}

// Regression: TLS below 1.2 is refused.
func TestTLSMinimumVersion(t *testing.T) {
	st := newSite(t)
	rec := &recorder{status: 200, reply: "true"}
	srv := startQPS(t, rec, st.ca.serverCert(t, leaf{ips: loopback}), st.ca,
		func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 })
	n, err := NewNode(NodeConfig{URL: srv.URL}, st.creds)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Alive(context.Background(), "bi"); err == nil {
		t.Fatal("a TLS 1.1 node was accepted")
	}
}
