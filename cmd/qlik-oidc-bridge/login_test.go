package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

// loginSite is a whole site on loopback for the login command: the test provider, the QPS
// simulator and a bridge with scripts on, sharing one clock.
type loginSite struct {
	t       *testing.T
	qps     *qpstest.Server
	idp     *oidctest.Provider
	idpSrv  *httptest.Server
	bridge  string
	clock   *loginClock
	drivers sync.WaitGroup
}

type loginClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *loginClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *loginClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// siteOptions configure newLoginSite; the zero value has scripts on and no device grant.
type siteOptions struct {
	device  bool                // the provider offers the device grant
	scripts string              // the scripts block; "" means {enabled: true}
	edit    func(string) string // edits the bridge's configuration
}

func newLoginSite(t *testing.T, o siteOptions) *loginSite {
	t.Helper()
	s := &loginSite{t: t, clock: &loginClock{now: time.Now()}}
	t.Cleanup(s.drivers.Wait)
	// The cache lives in a configuration directory of this test only.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())

	var err error
	s.qps, err = qpstest.Start(qpstest.Config{CertDir: t.TempDir(), Now: s.clock.Now,
		VirtualProxies: []qpstest.VirtualProxy{{Prefix: "bi"}, {Prefix: "sales"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.qps.Close)

	srv := httptest.NewUnstartedServer(nil)
	s.bridge = "http://" + srv.Listener.Addr().String()
	users := oidctest.DemoUsers()
	s.idp, s.idpSrv = oidctest.NewServer(t, oidctest.Config{
		Users: users, Now: s.clock.Now, DeviceFlow: o.device, Key: loginKey(),
		Clients: []oidctest.Client{{ID: "bridge", Secret: "bridge-secret",
			RedirectURIs: []string{s.bridge + "/callback"}}},
	})

	if o.scripts == "" {
		o.scripts = "{enabled: true}"
	}
	client, key, root := s.qps.CertFiles()
	text := fmt.Sprintf(`
server: {public_url: %q}
oidc: {issuer: %q, client_id: bridge, client_secret: bridge-secret}
qlik:
  certificates: {client: %q, client_key: %q, root: %q}
  virtual_proxies:
    - {prefix: bi, public_url: %s/bi/, mode: ticket, nodes: [{url: %q}]}
mapping: {user_directory: TEST, user_id_claim: preferred_username}
access: {any_authenticated_user: true}
cookie_keys: ["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="]
scripts: %s
`, s.bridge, s.idpSrv.URL, client, key, root, s.qps.BrowserURL(), s.qps.RESTURL(), o.scripts)
	if o.edit != nil {
		text = o.edit(text)
	}
	cfg, err := bridge.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.New(context.Background(), cfg, bridge.Options{
		Logger: bridge.NewLogger(io.Discard, cfg.Log), Now: s.clock.Now,
		IdPClient: s.idpSrv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = b.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// loginKey is the provider's signing key, made once for every test of the package.
var loginKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// login runs "qlik-oidc-bridge login --bridge URL args..." and returns its output.
func (s *loginSite) login(args ...string) (string, string, error) {
	var out, errOut syncBuffer
	err := run(context.Background(), append([]string{"login", "--bridge", s.bridge}, args...),
		&out, &errOut)
	return out.String(), errOut.String(), err
}

// browser stands in for the desktop's browser: it signs in at the provider as user and
// follows the bridge back to the command's listener. edit, when set, changes the login URL
// first.
func (s *loginSite) browser(user string, edit func(*url.URL)) func(string) error {
	return func(raw string) error {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		if edit != nil {
			edit(u)
		}
		s.drivers.Add(1)
		go func() {
			defer s.drivers.Done()
			if err := s.drive(u.String(), user); err != nil {
				s.t.Errorf("browser: %v", err)
			}
		}()
		return nil
	}
}

func (s *loginSite) drive(start, user string) error {
	jar, _ := cookiejar.New(nil)
	idp, _ := url.Parse(s.idpSrv.URL)
	c := &http.Client{Jar: jar, Transport: s.idpSrv.Client().Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Host == idp.Host {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	resp, err := c.Get(start)
	if err != nil {
		return err
	}
	resp.Body.Close()
	authURL, err := resp.Location()
	if err != nil {
		return fmt.Errorf("the bridge did not send the browser to the provider (%d)",
			resp.StatusCode)
	}
	back, err := oidctest.Login(c, authURL.String(), user, user)
	if err != nil {
		return err
	}
	resp, err = c.Get(back.String()) // the callback, then the command's listener
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// noBrowser fails the test if the command opens a browser.
func (s *loginSite) noBrowser(string) error {
	s.t.Error("the command opened a browser")
	return errors.New("no browser here")
}

// deviceUser stands in for the person with the device way: at the command's first wait it
// reads the code the command printed and answers at the provider's page with act; every
// wait lets the interval pass on the shared clock.
func (s *loginSite) deviceUser(stderr func() string, act func(verify, code string) error) func(
	context.Context, time.Duration) error {
	var once sync.Once
	return func(_ context.Context, d time.Duration) error {
		once.Do(func() {
			m := userCode.FindStringSubmatch(stderr())
			if m == nil {
				s.t.Errorf("no user code in %q", stderr())
				return
			}
			if err := act(m[1], m[2]); err != nil {
				s.t.Errorf("at the provider: %v", err)
			}
		})
		s.clock.Advance(d)
		return nil
	}
}

var userCode = regexp.MustCompile(`open (\S+) in a browser and enter the code\s+(\S+)`)

// throughProxy asks the simulated virtual proxy for the hub with the cookie header line.
func (s *loginSite) throughProxy(sess *bridge.ScriptSession, header string) string {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, sess.QlikURL+"hub/", nil)
	name, value, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(header), "Cookie: "),
		"=")
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("the virtual proxy answered %d", resp.StatusCode)
	}
	m := regexp.MustCompile(`id="user">Logged in as ([^<]*)<`).FindSubmatch(body)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func decodeSession(t *testing.T, out string) *bridge.ScriptSession {
	t.Helper()
	var s bridge.ScriptSession
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	return &s
}

func exitStatus(err error) int {
	var ec interface{ ExitCode() int }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	return 1
}

func TestLoginWithBrowser(t *testing.T) {
	s := newLoginSite(t, siteOptions{})
	openBrowser = s.browser("alice", nil)
	t.Cleanup(func() { openBrowser = openSystemBrowser })

	out, errOut, err := s.login()
	if err != nil {
		t.Fatalf("%v; %s", err, errOut)
	}
	sess := decodeSession(t, out)
	if got := s.throughProxy(sess, "Cookie: "+sess.CookieName+"="+sess.CookieValue); got !=
		`TEST\alice` {
		t.Errorf("the proxy's page names %q", got)
	}

	// The cache: a file only the user can read, in a directory only they can enter.
	dir := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "qlik-oidc-bridge")
	files, _ := filepath.Glob(filepath.Join(dir, "session-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %q", files)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, files[0]: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}

	// A second run reuses the session: no browser, no new session at the proxy.
	openBrowser = s.noBrowser
	out2, errOut, err := s.login("--format", "header")
	if err != nil {
		t.Fatalf("%v; %s", err, errOut)
	}
	if out2 != "Cookie: "+sess.CookieName+"="+sess.CookieValue+"\n" ||
		!strings.Contains(errOut, "Reusing") {
		t.Errorf("second run printed %q (%s)", out2, errOut)
	}
	if n := len(s.qps.Sessions()); n != 1 {
		t.Errorf("the proxy holds %d sessions, want 1", n)
	}

	// logout ends it and forgets it.
	if err := run(context.Background(), []string{"logout", "--bridge", s.bridge},
		io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := len(s.qps.Sessions()); n != 0 {
		t.Errorf("after logout the proxy holds %d sessions", n)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "session-*.json")); len(files) != 0 {
		t.Errorf("after logout the cache holds %q", files)
	}
}

func TestLoginWithDevice(t *testing.T) {
	s := newLoginSite(t, siteOptions{device: true})
	var errOut syncBuffer
	pause = s.deviceUser(errOut.String, func(verify, code string) error {
		return oidctest.ApproveDevice(s.idpSrv.Client(), verify, code, "bob", "bob")
	})
	openBrowser = s.noBrowser
	t.Cleanup(func() { pause, openBrowser = sleep, openSystemBrowser })

	var out syncBuffer
	err := run(context.Background(), []string{"login", "--bridge", s.bridge, "--format", "curl"},
		&out, &errOut)
	if err != nil {
		t.Fatalf("%v; %s", err, errOut.String())
	}
	// A cookie jar line: domain, subdomains, path, secure, expiry, name, value.
	var jarLine []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "#HttpOnly_") {
			jarLine = strings.Split(strings.TrimPrefix(line, "#HttpOnly_"), "\t")
		}
	}
	if len(jarLine) != 7 || jarLine[0] != "127.0.0.1" || jarLine[1] != "FALSE" ||
		jarLine[2] != "/" || jarLine[3] != "FALSE" || jarLine[5] != "X-Qlik-Session-bi-HTTP" {
		t.Fatalf("cookie jar %q", out.String())
	}
	sess := &bridge.ScriptSession{QlikURL: s.qps.BrowserURL() + "/bi/"}
	if got := s.throughProxy(sess, "Cookie: "+jarLine[5]+"="+jarLine[6]); got != `TEST\bob` {
		t.Errorf("the proxy's page names %q", got)
	}

	// The second run reuses the session, without a code.
	pause = func(context.Context, time.Duration) error {
		t.Error("the second run waited for a code")
		return nil
	}
	out2, _, err := s.login()
	if err != nil || decodeSession(t, out2).CookieValue != jarLine[6] {
		t.Errorf("second run: %v, %s", err, out2)
	}
	if n := len(s.qps.Sessions()); n != 1 {
		t.Errorf("the proxy holds %d sessions, want 1", n)
	}
}

// A cached session that Qlik has ended is replaced by a new login.
func TestLoginReplacesDeadCachedSession(t *testing.T) {
	s := newLoginSite(t, siteOptions{})
	openBrowser = s.browser("alice", nil)
	t.Cleanup(func() { openBrowser = openSystemBrowser })
	out, _, err := s.login()
	if err != nil {
		t.Fatal(err)
	}
	first := decodeSession(t, out)
	s.clock.Advance(31 * time.Minute) // beyond the proxy's inactivity timeout
	out, _, err = s.login()
	if err != nil {
		t.Fatal(err)
	}
	if second := decodeSession(t, out); second.CookieValue == first.CookieValue {
		t.Error("the dead session was reused")
	}
}

func TestLoginOutputFile(t *testing.T) {
	s := newLoginSite(t, siteOptions{})
	openBrowser = s.browser("alice", nil)
	t.Cleanup(func() { openBrowser = openSystemBrowser })
	path := filepath.Join(t.TempDir(), "jar.txt")
	out, _, err := s.login("--format", "curl", "--output", path)
	if err != nil || out != "" {
		t.Fatalf("%v, stdout %q", err, out)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("output file: %v %v", fi, err)
	}
}

// Each refusal ends the command with a message that says why and its own exit status.
func TestLoginRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		site    siteOptions
		args    []string
		browser func(s *loginSite) func(string) error
		device  func(s *loginSite) func(verify, code string) error
		status  int
		says    string
	}{
		{name: "scripts disabled", site: siteOptions{scripts: "{enabled: false}"},
			status: exitUnavailable, says: "turned off"},
		{name: "virtual proxy not configured", args: []string{"--proxy", "sales"},
			status: exitUnavailable, says: `"sales" is not configured at the bridge`},
		{name: "device way not offered", args: []string{"--device"},
			status: exitUnavailable, says: "use --browser"},
		{name: "refused user", site: siteOptions{device: true, edit: func(s string) string {
			return strings.Replace(s, "access: {any_authenticated_user: true}",
				"access: {groups: [Finance]}", 1)
		}}, device: func(s *loginSite) func(string, string) error {
			return func(verify, code string) error {
				return oidctest.ApproveDevice(s.idpSrv.Client(), verify, code, "alice", "alice")
			}
		}, status: exitRefused, says: "not in a group"},
		{name: "denied at the provider", site: siteOptions{device: true},
			device: func(s *loginSite) func(string, string) error {
				return func(verify, code string) error {
					return oidctest.DenyDevice(s.idpSrv.Client(), verify, code)
				}
			}, status: exitRefused, says: "cancelled or denied"},
		{name: "abandoned device code", site: siteOptions{device: true},
			device: func(s *loginSite) func(string, string) error {
				return func(string, string) error { s.clock.Advance(11 * time.Minute); return nil }
			}, status: exitExpired, says: "expired"},
		{name: "a code from another login at the listener",
			browser: func(s *loginSite) func(string) error {
				// Someone else's login, with their own challenge, ends at this command's
				// listener: the command's verifier does not fit it.
				return s.browser("bob", func(u *url.URL) {
					q := u.Query()
					_, other, _ := bridge.NewScriptVerifier()
					q.Set("code_challenge", other)
					u.RawQuery = q.Encode()
				})
			}, status: exitRejected, says: "verifier does not match"},
		{name: "no bridge", args: []string{"--bridge", ""}, status: exitUsage,
			says: "--bridge is required"},
		{name: "bridge over http elsewhere", args: []string{"--bridge", "http://qlik.example"},
			status: exitUsage, says: "must be https"},
		{name: "unknown format", args: []string{"--format", "xml"}, status: exitUsage,
			says: "--format"},
		{name: "both ways", args: []string{"--device", "--browser"}, status: exitUsage,
			says: "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLoginSite(t, tc.site)
			var errOut syncBuffer
			openBrowser = s.noBrowser
			if tc.browser != nil {
				openBrowser = tc.browser(s)
			}
			if tc.device != nil {
				pause = s.deviceUser(errOut.String, tc.device(s))
			}
			t.Cleanup(func() { pause, openBrowser = sleep, openSystemBrowser })
			args := append([]string{"login", "--bridge", s.bridge}, tc.args...)
			err := run(context.Background(), args, io.Discard, &errOut)
			if got := exitStatus(err); got != tc.status || !strings.Contains(fmt.Sprint(err),
				tc.says) {
				t.Errorf("got %v (exit %d), want exit %d saying %q", err, got, tc.status, tc.says)
			}
			if n := len(s.qps.Sessions()); n != 0 {
				t.Errorf("the proxy holds %d sessions", n)
			}
		})
	}
}

func TestLoginHelpExplainsEachFlag(t *testing.T) {
	var errOut bytes.Buffer
	err := run(context.Background(), []string{"login", "--help"}, io.Discard, &errOut)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"-bridge URL", "-proxy prefix", "-format", "-output file",
		"-device", "-browser", "-timeout", "Exit status"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, errOut.String())
		}
	}
}
