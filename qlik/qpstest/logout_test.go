package qpstest

import (
	"crypto/tls"
	"crypto/x509"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

const logoutTarget = "https://bridge.localhost:8443/logout?from=qlik"

var logoutForm = regexp.MustCompile(
	`<form method="post" action="([^"]*)">\s*<button id="logout" type="submit">`)

// clickLogout opens the hub page, finds the logout form and posts it, as a browser would.
func clickLogout(t *testing.T, e *env, b *browser, hubPath string) reply {
	t.Helper()
	hub := b.get(t, e.s.BrowserURL()+hubPath)
	m := logoutForm.FindStringSubmatch(hub.body)
	if hub.status != http.StatusOK || m == nil {
		t.Fatalf("hub page %d without the logout form:\n%s", hub.status, hub.body)
	}
	req, _ := http.NewRequest(http.MethodPost, e.s.BrowserURL()+html.UnescapeString(m[1]), nil)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, b.c, req)
}

// expiredCookie checks that a reply expires the named cookie and returns it.
func expiredCookie(t *testing.T, r reply, name string) *http.Cookie {
	t.Helper()
	c := setCookie(t, r, name)
	if c.MaxAge >= 0 || c.Value != "" || c.Path != "/" || !c.HttpOnly {
		t.Fatalf("cookie %+v, want it expired", c)
	}
	return c
}

func TestLogoutFormPath(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	cases := []struct{ name, prefix, hub, action string }{
		{"default proxy", "", "/hub/", "/qps/user/logout"},
		{"prefix", "bi", "/bi/hub/", "/bi/qps/user/logout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.visit(t, tc.prefix, e.addSession(t, tc.prefix, "CORP", "alice", `[]`))
			m := logoutForm.FindStringSubmatch(r.body)
			if m == nil || m[1] != tc.action {
				t.Fatalf("form %v, want action %q:\n%s", m, tc.action, r.body)
			}
		})
	}
}

func TestLogoutFormRedirects(t *testing.T) {
	t.Parallel()
	e := start(t, Config{VirtualProxies: []VirtualProxy{
		{Prefix: "bi", AuthModuleRedirectURI: moduleBI, LogoutRedirectURI: logoutTarget},
	}})
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	b := newBrowser(t, nil)
	b.setCookie(t, e.s.BrowserURL(), e.s.CookieName("bi"), id)

	r := clickLogout(t, e, b, "/bi/hub/")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != logoutTarget {
		t.Fatalf("got %d Location %q, want 303 to %q",
			r.status, r.header.Get("Location"), logoutTarget)
	}
	expiredCookie(t, r, "X-Qlik-Session-bi-HTTP")
	if n := len(e.s.Sessions()); n != 0 {
		t.Fatalf("%d sessions after logout", n)
	}
	moduleRedirect(t, b.get(t, e.s.BrowserURL()+"/bi/hub/"), moduleBI)
}

func TestLogoutFormShowsLoggedOutPage(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	b := newBrowser(t, nil)
	b.setCookie(t, e.s.BrowserURL(), e.s.CookieName("bi"), id)

	r := clickLogout(t, e, b, "/bi/hub/")
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="logged-out"`) {
		t.Fatalf("got %d:\n%s", r.status, r.body)
	}
	expiredCookie(t, r, "X-Qlik-Session-bi-HTTP")
	if n := len(e.s.Sessions()); n != 0 {
		t.Fatalf("%d sessions after logout", n)
	}
}

func TestLogoutFormOverHTTPS(t *testing.T) {
	t.Parallel()
	e := start(t, Config{BrowserTLS: true, VirtualProxies: []VirtualProxy{
		{Prefix: "bi", AuthModuleRedirectURI: moduleBI, CookieDomain: "127.0.0.1"},
	}})
	_, _, rootFile := e.s.CertFiles()
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, rootFile))
	b := newBrowser(t, &tls.Config{RootCAs: roots})
	b.setCookie(t, e.s.BrowserURL(), "X-Qlik-Session-bi", e.addSession(t, "bi", "C", "a", `[]`))

	c := expiredCookie(t, clickLogout(t, e, b, "/bi/hub/"), "X-Qlik-Session-bi")
	if !c.Secure || c.Domain != "127.0.0.1" || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", c)
	}
}

func TestLogoutFormWithoutSession(t *testing.T) {
	t.Parallel()
	e := start(t, Config{VirtualProxies: []VirtualProxy{
		{Prefix: "", AuthModuleRedirectURI: moduleDefault},
		{Prefix: "bi", AuthModuleRedirectURI: moduleBI, LogoutRedirectURI: logoutTarget},
	}})
	other := e.addSession(t, "", "CORP", "alice", `[]`)
	cases := []struct{ name, cookie string }{
		{"no cookie", ""},
		{"unknown session", "no-such-session"},
		// A trust rule: the cookie of one virtual proxy never ends another's session.
		{"session of another virtual proxy", other},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.s.BrowserURL()+"/bi/qps/user/logout", nil)
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: e.s.CookieName("bi"), Value: tc.cookie})
			}
			r := send(t, newBrowser(t, nil).c, req)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != logoutTarget {
				t.Fatalf("got %d Location %q", r.status, r.header.Get("Location"))
			}
			if s := e.s.Sessions(); len(s) != 1 || s[0].ID != other {
				t.Fatalf("sessions %+v, want the other proxy's kept", s)
			}
		})
	}
}

func TestLogoutFormMethod(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	b := newBrowser(t, nil)
	b.setCookie(t, e.s.BrowserURL(), e.s.CookieName("bi"), id)
	r := b.get(t, e.s.BrowserURL()+"/bi/qps/user/logout")
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != http.MethodPost {
		t.Fatalf("GET: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	if n := len(e.s.Sessions()); n != 1 {
		t.Fatalf("a GET ended the session: %d left", n)
	}
}

func TestLogoutRedirectURISetLater(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	if err := e.s.SetLogoutRedirectURI("bi", logoutTarget); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.s.BrowserURL()+"/bi/qps/user/logout", nil)
	if r := send(t, newBrowser(t, nil).c, req); r.header.Get("Location") != logoutTarget {
		t.Fatalf("got %d Location %q", r.status, r.header.Get("Location"))
	}
	for name, err := range map[string]error{
		"unknown prefix": e.s.SetLogoutRedirectURI("nope", logoutTarget),
		"relative URI":   e.s.SetLogoutRedirectURI("bi", "/logout"),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "qpstest: ") {
			t.Errorf("%s: err %v, want a qpstest error", name, err)
		}
	}
}
