package qpstest

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// startSite makes a site and starts two nodes of it on the host name localhost.
func startSite(t *testing.T, cfg Config) (site *Site, a, b *env) {
	t.Helper()
	site, err := NewSite(t.TempDir(), "central")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Site = site
	return site, start(t, cfg), start(t, cfg)
}

func TestSiteNodesShareCertificates(t *testing.T) {
	t.Parallel()
	site, a, b := startSite(t, Config{})
	if a.s.Site() != site || b.s.Site() != site {
		t.Fatal("Site() is not the configured site")
	}
	siteFiles := fmt.Sprint(site.CertFiles())
	for _, e := range []*env{a, b} {
		if got := fmt.Sprint(e.s.CertFiles()); got != siteFiles {
			t.Fatalf("node CertFiles %s, want the site's %s", got, siteFiles)
		}
	}
	if a.s.RESTURL() == b.s.RESTURL() || !strings.HasPrefix(b.s.RESTURL(), "https://localhost:") {
		t.Fatalf("RESTURLs %q and %q, want localhost on two ports", a.s.RESTURL(), b.s.RESTURL())
	}
	if a.s.ProxyRestURI("bi") == b.s.ProxyRestURI("bi") {
		t.Fatal("both nodes send the same proxyRestUri")
	}

	_, _, rootFile := site.CertFiles()
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, rootFile))
	leafA, leafB := serverCert(t, a), serverCert(t, b)
	for _, leaf := range []*x509.Certificate{leafA, leafB} {
		if leaf.Subject.CommonName != "localhost" || leaf.Issuer.CommonName != "central-CA" {
			t.Fatalf("subject %q issuer %q", leaf.Subject.CommonName, leaf.Issuer.CommonName)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
			t.Fatalf("root.pem does not verify a node: %v", err)
		}
	}
	if leafA.SerialNumber.Cmp(leafB.SerialNumber) == 0 {
		t.Fatal("both nodes present the same server certificate")
	}
}

func TestSiteClientReachesEveryNode(t *testing.T) {
	t.Parallel()
	site, a, b := startSite(t, Config{})
	certFile, keyFile, _ := site.CertFiles()
	client := restClient(t, a.s, certFile, keyFile)
	for _, e := range []*env{a, b} {
		req, _ := http.NewRequest(http.MethodGet, e.s.RESTURL()+"/qps/alive?xrfkey="+goodKey, nil)
		req.Header.Set("X-Qlik-Xrfkey", goodKey)
		if r := send(t, client, req); r.status != http.StatusOK || r.body != "true" {
			t.Fatalf("%s: got %d %q", e.s.RESTURL(), r.status, r.body)
		}
	}
}

func TestNodeJoinsSiteOfAnother(t *testing.T) {
	t.Parallel()
	a := start(t, Config{Hostname: "localhost"})
	b := start(t, Config{Site: a.s.Site()})
	if a.s.Site().Hostname() != "localhost" {
		t.Fatalf("site host name %q", a.s.Site().Hostname())
	}
	if r := a.call(t, http.MethodGet, "/qps/alive", ""); r.status != http.StatusOK {
		t.Fatalf("first node: %d", r.status)
	}
	// a.rest holds the first node's files; the second node accepts them.
	b.rest = a.rest
	if r := b.call(t, http.MethodGet, "/qps/alive", ""); r.status != http.StatusOK {
		t.Fatalf("second node: %d", r.status)
	}
}

func TestSessionLivesOnItsNode(t *testing.T) {
	t.Parallel()
	_, a, b := startSite(t, Config{})
	id := a.addSession(t, "bi", "CORP", "alice", `[]`)

	t.Run("REST of the other node", func(t *testing.T) {
		if r := b.call(t, "GET", "/qps/bi/session/"+id, ""); r.status != 200 || r.body != "null" {
			t.Fatalf("GET session: %d %q", r.status, r.body)
		}
		if r := b.call(t, "GET", "/qps/bi/user/CORP/alice", ""); r.body != "[]" {
			t.Fatalf("GET user: %d %q", r.status, r.body)
		}
		if r := b.call(t, "DELETE", "/qps/bi/session/"+id, ""); r.status != 404 {
			t.Fatalf("DELETE session: %d %s", r.status, r.body)
		}
		if r := b.call(t, "DELETE", "/qps/bi/user/CORP/alice", ""); r.body != "[]" {
			t.Fatalf("DELETE user: %d %q", r.status, r.body)
		}
		if n := len(b.s.Sessions()); n != 0 {
			t.Fatalf("other node holds %d sessions", n)
		}
		if n := len(a.s.Sessions()); n != 1 {
			t.Fatalf("first node holds %d sessions after the other node's deletes", n)
		}
	})

	t.Run("browser side of each node", func(t *testing.T) {
		// Cookies do not tell ports apart: the browser sends the cookie to both nodes.
		br := newBrowser(t, nil)
		br.setCookie(t, a.s.BrowserURL(), a.s.CookieName("bi"), id)
		assertPage(t, br.get(t, a.s.BrowserURL()+"/bi/hub"), http.StatusOK,
			`Logged in as CORP\alice`)
		moduleRedirect(t, br.get(t, b.s.BrowserURL()+"/bi/hub"), moduleBI)

		// Adding the same session to the other node lets it serve the user too.
		body := fmt.Sprintf(`{"UserDirectory":"CORP","UserId":"alice","SessionId":%q}`, id)
		if r := b.call(t, http.MethodPost, "/qps/bi/session", body); r.status != 201 {
			t.Fatalf("same id on the other node: %d %s", r.status, r.body)
		}
		assertPage(t, br.get(t, b.s.BrowserURL()+"/bi/hub"), http.StatusOK,
			`Logged in as CORP\alice`)
	})
}

func TestTicketRedeemsOnlyAtItsNode(t *testing.T) {
	t.Parallel()
	_, a, b := startSite(t, Config{})
	tk := a.ticket(t, "bi", `{"UserDirectory":"CORP","UserId":"alice"}`)["Ticket"].(string)
	br := newBrowser(t, nil)
	assertPage(t, br.get(t, b.s.BrowserURL()+"/bi/hub?qlikTicket="+tk),
		http.StatusForbidden, "invalid or expired ticket")
	if r := br.get(t, a.s.BrowserURL()+"/bi/hub?qlikTicket="+tk); r.status != http.StatusFound {
		t.Fatalf("issuing node: %d", r.status)
	}
}

func TestTargetIDResolvesOnlyAtItsNode(t *testing.T) {
	t.Parallel()
	_, a, b := startSite(t, Config{})
	r := newBrowser(t, nil).get(t, a.s.BrowserURL()+"/bi/sense/app/1")
	body := fmt.Sprintf(`{"UserDirectory":"CORP","UserId":"alice","TargetId":%q}`,
		moduleRedirect(t, r, moduleBI).Get("targetId"))
	if m := b.ticket(t, "bi", body); m["TargetUri"] != nil {
		t.Fatalf("other node resolved the target: %v", m)
	}
	if m := a.ticket(t, "bi", body); m["TargetUri"] != a.s.BrowserURL()+"/bi/sense/app/1" {
		t.Fatalf("TargetUri %v", m["TargetUri"])
	}
}

func TestSessionLimitCountsPerNode(t *testing.T) {
	t.Parallel()
	_, a, b := startSite(t, Config{MaxSessionsPerUser: 2})
	for range 2 {
		if r := a.visit(t, "bi", a.addSession(t, "bi", "CORP", "alice", `[]`)); r.status != 200 {
			t.Fatalf("first node: %d", r.status)
		}
	}
	over := a.addSession(t, "bi", "CORP", "alice", `[]`)
	assertPage(t, a.visit(t, "bi", over), http.StatusForbidden, "too many sessions")
	if r := b.visit(t, "bi", b.addSession(t, "bi", "CORP", "alice", `[]`)); r.status != 200 {
		t.Fatalf("other node: %d, want the limit counted per node", r.status)
	}
}

func TestRequestsPerNode(t *testing.T) {
	t.Parallel()
	_, a, b := startSite(t, Config{})
	a.call(t, http.MethodGet, "/qps/alive", "")
	a.call(t, http.MethodDelete, "/qps/bi/session/no-such-id", "")
	b.call(t, http.MethodDelete, "/qps/bi/user/CORP/nobody", "")
	ra, rb := a.s.Requests(), b.s.Requests()
	if len(ra) != 2 || ra[1].Status != 404 || len(rb) != 1 || rb[0].Status != 200 {
		t.Fatalf("first node %+v, other node %+v", ra, rb)
	}
}

func TestSiteConfigRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	site, err := NewSite(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if site.Hostname() != DefaultHostname {
		t.Fatalf("Hostname %q", site.Hostname())
	}
	if _, err := NewSite("", "x"); err == nil || !strings.HasPrefix(err.Error(), "qpstest: ") {
		t.Fatalf("NewSite without a directory: %v", err)
	}
	cases := []struct {
		name    string
		site    *Site
		certDir string
	}{
		{"zero Site", &Site{}, ""},
		{"CertDir of another directory", site, t.TempDir()},
		{"CertDir below the site's", site, filepath.Join(dir, "sub")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newServer(Config{Site: tc.site, CertDir: tc.certDir,
				VirtualProxies: testProxies()})
			if err == nil || !strings.HasPrefix(err.Error(), "qpstest: ") {
				t.Fatalf("err %v, want a qpstest error", err)
			}
		})
	}
	same := filepath.Join(dir, ".", "sub", "..")
	if _, err := newServer(Config{Site: site, CertDir: same,
		VirtualProxies: testProxies()}); err != nil {
		t.Fatalf("the site's own CertDir: %v", err)
	}
}
