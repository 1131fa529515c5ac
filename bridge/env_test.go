package bridge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

// env is a whole site on loopback: the test identity provider (https), the QPS simulator
// (REST over mutual TLS, browser side over http) and the bridge (http), plus a browser.
type env struct {
	t       *testing.T
	qps     *qpstest.Server   // the first proxy node
	nodes   []*qpstest.Server // every proxy node of the site
	idp     *oidctest.Provider
	idpSrv  *httptest.Server
	bridge  *httptest.Server
	srv     *bridge.Server
	browser *http.Client
	logs    *syncBuffer
	clock   *clock

	qpsBaseline int // sessions a test expects the simulator to hold
}

type envOptions struct {
	mode   string                   // "session" (default) or "ticket"
	idp    func(*oidctest.Config)   // edit the provider's configuration
	config func(yaml string) string // edit the bridge's configuration text
	nodes  int                      // proxy nodes of the virtual proxy; zero means one
}

const testCookieKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.mode == "" {
		o.mode = "session"
	}
	e := &env{t: t, logs: &syncBuffer{}, clock: &clock{now: time.Now()}}

	site, err := qpstest.NewSite(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < max(o.nodes, 1); i++ {
		n, err := qpstest.Start(qpstest.Config{
			Site: site,
			VirtualProxies: []qpstest.VirtualProxy{
				{Prefix: "bi", CookieName: "X-Qlik-Session-bi"},
				{Prefix: "sales", CookieName: "X-Qlik-Session-sales"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		e.nodes = append(e.nodes, n)
	}
	qps := e.nodes[0]
	e.qps = qps

	// The bridge's URL is needed before the provider and the bridge can be configured.
	e.bridge = httptest.NewUnstartedServer(nil)
	bridgeURL := "http://" + e.bridge.Listener.Addr().String()
	var nodeList []string
	for _, n := range e.nodes {
		for _, prefix := range []string{"bi", "sales"} {
			if err := n.SetAuthModuleRedirectURI(prefix, bridgeURL+"/login"); err != nil {
				t.Fatal(err)
			}
		}
		nodeList = append(nodeList, fmt.Sprintf("{url: %q}", n.RESTURL()))
	}

	users := oidctest.DemoUsers()
	for i := range users {
		users[i].Subject = "sub-" + users[i].Username
	}
	idpCfg := oidctest.Config{
		Key:   providerKey(t),
		Users: users,
		Clients: []oidctest.Client{{ID: "bridge", Secret: "bridge-secret",
			RedirectURIs: []string{bridgeURL + "/callback"}}},
	}
	if o.idp != nil {
		o.idp(&idpCfg)
	}
	e.idp, e.idpSrv = oidctest.NewServer(t, idpCfg)

	client, key, root := qps.CertFiles()
	text := fmt.Sprintf(`
server: {public_url: %q}
oidc:
  issuer: %q
  client_id: bridge
  client_secret: bridge-secret
  scopes: [openid, profile, email, groups]
qlik:
  certificates: {client: %q, client_key: %q, root: %q}
  virtual_proxies:
    - prefix: bi
      public_url: %s/bi/
      mode: %s
      cookie_name: X-Qlik-Session-bi
      nodes: [%s]
mapping:
  user_directory: TEST
  user_id_claim: preferred_username
  attributes: [{claim: email, attribute: email}]
access: {any_authenticated_user: true}
cookie_keys: [%q]
`, bridgeURL, e.idpSrv.URL, client, key, root, qps.BrowserURL(), o.mode,
		strings.Join(nodeList, ", "), testCookieKey)
	if o.config != nil {
		text = o.config(text)
	}
	cfg, err := bridge.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = bridge.New(context.Background(), cfg, bridge.Options{
		Logger:    bridge.NewLogger(e.logs, bridge.LogConfig{Level: "debug", Format: "json"}),
		Now:       e.clock.Now,
		IdPClient: e.idpSrv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.bridge.Config.Handler = e.srv.Handler()
	e.bridge.Start()
	t.Cleanup(e.bridge.Close)
	e.browser = e.newBrowser()
	return e
}

// newBrowser returns a client with its own cookie jar that trusts the provider's
// certificate and does not follow redirects by itself.
func (e *env) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Transport: sameSite{e.idpSrv.Client().Transport},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 10 * time.Second,
	}
}

// result is where a browser ended.
type result struct {
	URL    string
	Status int
	Body   string
	Hops   []string
}

// visit follows redirects from raw until a page is served or the provider's authorization
// endpoint is reached, which it returns without opening.
func (e *env) visit(c *http.Client, raw string) result {
	e.t.Helper()
	var r result
	for i := 0; i < 10; i++ {
		r.Hops = append(r.Hops, raw)
		if strings.HasPrefix(raw, e.idpSrv.URL) {
			r.URL = raw
			return r
		}
		resp, err := c.Get(raw)
		if err != nil {
			e.t.Fatalf("GET %s: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			r.URL, r.Status, r.Body = raw, resp.StatusCode, string(body)
			return r
		}
		next, err := resp.Request.URL.Parse(loc)
		if err != nil {
			e.t.Fatalf("bad Location %q: %v", loc, err)
		}
		raw = next.String()
	}
	e.t.Fatalf("redirect loop: %q", r.Hops)
	return r
}

// login starts at raw, logs in at the provider as user and follows the browser home.
func (e *env) login(c *http.Client, raw, user string) result {
	e.t.Helper()
	r := e.visit(c, raw)
	if !strings.HasPrefix(r.URL, e.idpSrv.URL) {
		e.t.Fatalf("expected the identity provider, ended at %s (%d): %s", r.URL, r.Status, r.Body)
	}
	back, err := oidctest.Login(c, r.URL, user, user)
	if err != nil {
		e.t.Fatal(err)
	}
	r2 := e.visit(c, back.String())
	r2.Hops = append(r.Hops, r2.Hops...)
	return r2
}

// authorize starts a login at raw and returns the callback URL the provider sends back,
// without opening it.
func (e *env) authorize(c *http.Client, raw, user string) string {
	e.t.Helper()
	r := e.visit(c, raw)
	back, err := oidctest.Login(c, r.URL, user, user)
	if err != nil {
		e.t.Fatal(err)
	}
	return back.String()
}

func (e *env) qlik(path string) string { return e.qps.BrowserURL() + path }

// sameSite marks each request as a browser does when the user follows links within the
// site (Sec-Fetch-Site), unless the request says otherwise.
type sameSite struct{ http.RoundTripper }

func (t sameSite) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Sec-Fetch-Site") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Sec-Fetch-Site", "same-site")
	}
	return t.RoundTripper.RoundTrip(r)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort is a loopback address nobody listens on.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

// providerKey is one RSA key for every test provider of this package: generating a key
// per test would dominate the run time.
func providerKey(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return key
}
