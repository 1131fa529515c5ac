package e2e

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/e2e/internal/e2eutil"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

// site is a whole deployment on loopback with host names as on a real site: the simulated
// Qlik proxy at qlik.localhost, the bridge at login.qlik.localhost (the cookie domain
// qlik.localhost covers both) and oidc-provider, a certified OpenID provider, over https at
// localhost with a CA of its own that the bridge trusts through oidc.ca_file.
type site struct {
	op        *e2eutil.OP
	qps       *qpstest.Server
	bridgeURL string
}

var siteHosts = []string{"qlik.localhost", "login.qlik.localhost"}

func startSite(t *testing.T, mode string) *site {
	return startSiteWith(t, mode, "", nil)
}

// startSiteWith starts a site whose bridge configuration ends with extra and whose client
// registration at the provider editClient changes, when not nil.
func startSiteWith(t *testing.T, mode, extra string, editClient func(*e2eutil.Client)) *site {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &site{bridgeURL: "http://login.qlik.localhost:" + port}

	s.qps, err = qpstest.Start(qpstest.Config{
		CertDir:     t.TempDir(),
		BrowserHost: "qlik.localhost",
		VirtualProxies: []qpstest.VirtualProxy{{Prefix: "bi", CookieName: "X-Qlik-Session-bi",
			CookieDomain: "qlik.localhost", AuthModuleRedirectURI: s.bridgeURL + "/login"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.qps.Close)
	// The provider's back-channel requests go to loopback by address: it resolves no
	// *.localhost names.
	client := confidentialClient(s.bridgeURL + "/callback")
	client.BackchannelLogoutURI = "http://127.0.0.1:" + port + "/backchannel-logout"
	client.PostLogoutRedirectURIs = []string{s.bridgeURL + "/"}
	if editClient != nil {
		editClient(&client)
	}
	s.op = testOP(t, client)

	cert, key, root := s.qps.CertFiles()
	extra = strings.ReplaceAll(extra, "BRIDGE", s.bridgeURL)
	cfg, err := bridge.Parse([]byte(fmt.Sprintf(`
server: {public_url: %q}
oidc:
  issuer: %q
  client_id: %s
  client_secret: %s
  ca_file: %q
  scopes: [openid, profile, email, groups]
qlik:
  certificates: {client: %q, client_key: %q, root: %q}
  virtual_proxies:
    - prefix: bi
      public_url: %s/bi/
      mode: %s
      cookie_domain: qlik.localhost
      nodes: [{url: %q}]
mapping:
  user_directory: E2E
  user_id_claim: preferred_username
  attributes: [{claim: email, attribute: email}]
access: {groups: [Qlik Users]}
cookie_keys: ["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="]
%s
`, s.bridgeURL, s.op.Issuer, clientID, clientSecret, s.op.CAFile, cert, key, root,
		s.qps.BrowserURL(), mode, s.qps.RESTURL(), extra)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bridge.New(context.Background(), cfg, bridge.Options{
		Logger: bridge.NewLogger(io.Discard, cfg.Log),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("bridge: %v", err)
		}
	})
	return s
}

// checkOneSession asserts that the simulator holds exactly alice's session.
func (s *site) checkOneSession(t *testing.T) {
	t.Helper()
	sessions := s.qps.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("the simulator holds %d sessions, want 1", len(sessions))
	}
	got := sessions[0]
	var attrs []string
	for _, a := range got.Attributes {
		for k, v := range a {
			attrs = append(attrs, k+"="+v)
		}
	}
	want := "Group=Finance Group=Qlik Users email=alice@example.com"
	if got.UserDirectory != "E2E" || got.UserID != "alice" || strings.Join(attrs, " ") != want {
		t.Errorf("session %s\\%s %q, want E2E\\alice %q", got.UserDirectory, got.UserID,
			attrs, want)
	}
}

// goBrowser is an http.Client that resolves the site's names to loopback, trusts the
// provider's CA, keeps cookies and lets the test follow each redirect.
func (s *site) goBrowser() *http.Client {
	tr := s.op.Client.Transport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		if strings.HasSuffix(host, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// follow follows redirects from raw until a page is served, or until the provider.
func (s *site) follow(t *testing.T, c *http.Client, raw string) (string, string) {
	t.Helper()
	for i := 0; i < 12; i++ {
		if strings.HasPrefix(raw, s.op.Issuer) {
			return raw, ""
		}
		resp, err := c.Get(raw)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc == "" {
			return raw, string(body)
		}
		next, _ := resp.Request.URL.Parse(loc)
		raw = next.String()
	}
	t.Fatal("redirect loop")
	return "", ""
}

// TestLoginWithOIDCProvider logs in through the bridge with oidc-provider, from a Qlik
// deep link and from a portal link, in both modes.
func TestLoginWithOIDCProvider(t *testing.T) {
	e2eutil.RequireE2E(t)
	for _, mode := range []string{"session", "ticket"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := startSite(t, mode)
			deep := s.qps.BrowserURL() + "/bi/sense/app/0a1b?sheet=s1&opt=nointeraction"
			portal := s.bridgeURL + "/login?target=" + url.QueryEscape(deep)
			for i, start := range []string{deep, portal} {
				c := s.goBrowser()
				at, _ := s.follow(t, c, start)
				if !strings.HasPrefix(at, s.op.Issuer) {
					t.Fatalf("did not reach the provider: %s", at)
				}
				back, err := e2eutil.LoginWithForm(c, at, "alice", alicePass)
				if err != nil {
					t.Fatal(err)
				}
				final, body := s.follow(t, c, back.String())
				if final != deep || !strings.Contains(body, `Logged in as E2E\alice`) {
					t.Fatalf("start %s ended at %s: %s", start, final, body)
				}
				if n := len(s.qps.Sessions()); n != i+1 {
					t.Errorf("%d sessions after %d logins", n, i+1)
				}
			}
		})
	}
}

// TestBrowserLogin drives headless Chromium: a Qlik deep link with a query string, the
// provider's login form, and back on the deep link, named, with exactly one session.
func TestBrowserLogin(t *testing.T) {
	e2eutil.RequireE2E(t)
	for _, tc := range []struct {
		name, mode string
		portal     bool
	}{
		{"deep link", "session", false},
		{"portal link in session mode", "session", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSite(t, tc.mode)
			deep := s.qps.BrowserURL() + "/bi/sense/app/0a1b/sheet/s1/state/analysis?opt=ctxmenu&lang=en"
			start := deep
			if tc.portal {
				start = s.bridgeURL + "/login?target=" + url.QueryEscape(deep)
			}
			ctx := s.browserLogin(t, start)
			user, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("user")))
			if err != nil {
				t.Fatal(err)
			}
			location, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			if location != deep {
				t.Errorf("the browser ended at %s, want %s", location, deep)
			}
			if !strings.Contains(user, `E2E\alice`) {
				t.Errorf("the page names %q", user)
			}
			s.checkOneSession(t)
		})
	}
}

// describePage says where the browser is and what it shows, for a failure message.
func describePage(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	return fmt.Sprintf("the browser is at %s showing %.2000s", loc, html)
}

// TestBrowserLogout logs in with Chromium, then logs out at the bridge: the Qlik session
// ends, the provider's logout runs (RP-initiated, confirmed on its page) and returns to the
// bridge.
func TestBrowserLogout(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	s := startSiteWith(t, "session", "logout: {post_logout_redirect_uri: \"BRIDGE/\"}", nil)
	ctx := s.browserLogin(t, s.qps.BrowserURL()+"/bi/hub/")
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.bridgeURL+"/logout"),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("title")),
	)
	if err != nil {
		t.Fatalf("logout: %v; %s", err, describePage(ctx))
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != s.bridgeURL+"/" {
		t.Errorf("after logout the browser is at %s", loc)
	}
	if n := len(s.qps.Sessions()); n != 0 {
		t.Errorf("%d Qlik sessions left after logout", n)
	}
}

// TestBackchannelLogout logs in with Chromium, then logs out at the provider directly: the
// provider tells the bridge over the back channel, and the bridge ends the Qlik session.
func TestBackchannelLogout(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	s := startSite(t, "session")
	ctx := s.browserLogin(t, s.qps.BrowserURL()+"/bi/hub/")
	if n := len(s.qps.Sessions()); n != 1 {
		t.Fatalf("%d sessions after login", n)
	}
	end := s.op.Issuer + "/session/end?client_id=" + clientID +
		"&post_logout_redirect_uri=" + url.QueryEscape(s.bridgeURL+"/")
	err := chromedp.Do(ctx,
		chromedp.Navigate(end),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("title")),
	)
	if err != nil {
		t.Fatalf("provider logout: %v; %s", err, describePage(ctx))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(s.qps.Sessions()) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(s.qps.Sessions()); n != 0 {
		t.Errorf("%d Qlik sessions left after the provider's back-channel logout", n)
	}
}

// browserLogin logs alice in with Chromium from start and returns the browser.
func (s *site) browserLogin(t *testing.T, start string) context.Context {
	t.Helper()
	ctx := e2eutil.NewBrowserWith(t, e2eutil.BrowserOptions{
		Trust: []*x509.Certificate{s.op.CA}, Hosts: siteHosts})
	err := chromedp.Do(ctx,
		chromedp.Navigate(start),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), alicePass),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	if err != nil {
		t.Fatalf("browser login: %v; %s", err, describePage(ctx))
	}
	return ctx
}
