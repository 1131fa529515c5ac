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
	"html"
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

// browser stands in for the desktop's browser: it signs in at the provider as user,
// presses Allow on the bridge's confirmation page and follows the bridge back to the
// command's listener. edit, when set, changes the login URL first.
func (s *loginSite) browser(user string, edit func(*url.URL)) func(string) error {
	return s.browserPressing("allow", user, edit)
}

// browserPressing is browser, pressing button ("allow" or "cancel") on the confirmation.
func (s *loginSite) browserPressing(button, user string, edit func(*url.URL)) func(
	string) error {
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
			if err := s.drive(u.String(), user, button); err != nil {
				s.t.Errorf("browser: %v", err)
			}
		}()
		return nil
	}
}

func (s *loginSite) drive(start, user, button string) error {
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
	resp, err = c.Get(back.String()) // the callback: the bridge's confirmation page
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := formTag.FindSubmatch(body)
	if form == nil {
		return fmt.Errorf("no confirmation page after the sign-in (%d)", resp.StatusCode)
	}
	v := url.Values{}
	for _, m := range hiddenField.FindAllSubmatch(body, -1) {
		v.Add(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
	}
	if button == "cancel" {
		v.Set("cancel", "1")
	}
	// The page posts to the bridge, which sends the browser on to the command's listener.
	req, _ := http.NewRequest(http.MethodPost, html.UnescapeString(string(form[1])),
		strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp, err = c.Do(req); err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

var (
	formTag     = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

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
		refusal bool // the message starts with "login refused:"
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
		}, status: exitRefused, says: "not in a group", refusal: true},
		{name: "denied at the provider", site: siteOptions{device: true},
			device: func(s *loginSite) func(string, string) error {
				return func(verify, code string) error {
					return oidctest.DenyDevice(s.idpSrv.Client(), verify, code)
				}
			}, status: exitRefused, says: "cancelled or denied"},
		{name: "cancelled on the confirmation page",
			browser: func(s *loginSite) func(string) error {
				return s.browserPressing("cancel", "alice", nil)
			}, status: exitRefused, says: "cancelled in the browser"},
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
			if refusal := strings.HasPrefix(fmt.Sprint(err), "login refused:"); refusal !=
				tc.refusal {
				t.Errorf("%q starts with \"login refused:\": %v, want %v", err, refusal,
					tc.refusal)
			}
			if n := len(s.qps.Sessions()); n != 0 {
				t.Errorf("the proxy holds %d sessions", n)
			}
		})
	}
}

// The help that is asked for goes to stdout, so that it can be paged; after a wrong flag
// it goes to stderr.
func TestLoginHelpExplainsEachFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"login", "--help"}, &out, &errOut)
	if !errors.Is(err, flag.ErrHelp) || errOut.Len() != 0 {
		t.Fatalf("err = %v, stderr %q", err, errOut.String())
	}
	for _, want := range []string{"-bridge URL", "-proxy prefix", "-format", "-output file",
		"-device", "-browser", "-timeout", "Exit status"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	err = run(context.Background(), []string{"login", "--nope"}, &out, &errOut)
	if exitStatus(err) != exitUsage || out.Len() != 0 ||
		!strings.Contains(errOut.String(), "-bridge URL") {
		t.Errorf("a wrong flag: %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}
}

// A kept session that cannot be used does not stand in the way: it is dropped, with a
// line that names the file, and the user signs in afresh.
func TestLoginDropsAnUnusableCacheEntry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content func(s *loginSite) string
	}{
		{"not JSON", func(*loginSite) string { return "{garbage" }},
		{"a session id that is no UUID", func(s *loginSite) string {
			return `{"bridge": "` + s.bridge + `", "session": {"proxy": "bi", ` +
				`"cookie_value": "not-a-session"}}`
		}},
		{"a virtual proxy not open to scripts", func(s *loginSite) string {
			return `{"bridge": "` + s.bridge + `", "session": {"proxy": "sales", ` +
				`"cookie_value": "a1f39ab4-0000-4000-8000-000000000000"}}`
		}},
		{"no session", func(s *loginSite) string { return `{"bridge": "` + s.bridge + `"}` }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLoginSite(t, siteOptions{})
			openBrowser = s.browser("alice", nil)
			t.Cleanup(func() { openBrowser = openSystemBrowser })
			cache, err := openCache(s.bridge, "bi")
			if err != nil {
				t.Fatal(err)
			}
			if err := cache.makeDir(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cache.path, []byte(tc.content(s)), 0o600); err != nil {
				t.Fatal(err)
			}

			out, errOut, err := s.login()
			if err != nil {
				t.Fatalf("%v; %s", err, errOut)
			}
			if !strings.Contains(errOut, cache.path) || !strings.Contains(errOut, "afresh") {
				t.Errorf("no line names the cache file: %s", errOut)
			}
			kept, err := cache.read()
			if err != nil || kept == nil || kept.CookieValue != decodeSession(t, out).CookieValue {
				t.Errorf("the new session is not kept: %+v, %v", kept, err)
			}
		})
	}
}

// Runs started together with one cache add one Qlik session: they take turns, and those
// after the first reuse its session.
func TestLoginConcurrentRunsShareOneSession(t *testing.T) {
	s := newLoginSite(t, siteOptions{})
	openBrowser = s.browser("alice", nil)
	t.Cleanup(func() { openBrowser = openSystemBrowser })

	const runs = 4
	outs, errs := make([]string, runs), make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], _, errs[i] = s.login("--format", "header")
		}()
	}
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || outs[i] != outs[0] {
			t.Errorf("run %d: %v, %q; run 0 printed %q", i, errs[i], outs[i], outs[0])
		}
	}
	if n := len(s.qps.Sessions()); n != 1 {
		t.Errorf("the proxy holds %d sessions, want 1", n)
	}
	cache, _ := openCache(s.bridge, "bi")
	if _, err := os.Stat(cache.path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file is left behind: %v", err)
	}
}

// A run waits for the lock while another run holds it, no longer than --timeout, and takes
// over a lock that its run left behind.
func TestLoginLockFile(t *testing.T) {
	s := newLoginSite(t, siteOptions{})
	cache, _ := openCache(s.bridge, "bi")
	if err := cache.makeDir(); err != nil {
		t.Fatal(err)
	}
	lock := cache.path + ".lock"
	if err := os.WriteFile(lock, []byte("another run"), 0o600); err != nil {
		t.Fatal(err)
	}

	openBrowser = s.noBrowser
	t.Cleanup(func() { openBrowser = openSystemBrowser })
	_, errOut, err := s.login("--timeout", "300ms")
	if exitStatus(err) != exitExpired || !strings.Contains(fmt.Sprint(err), lock) ||
		!strings.Contains(errOut, "waiting for it") {
		t.Fatalf("with the lock held: %v (exit %d); %s", err, exitStatus(err), errOut)
	}
	if b, _ := os.ReadFile(lock); string(b) != "another run" {
		t.Errorf("the waiting run touched the other run's lock: %q", b)
	}

	old := time.Now().Add(-lockStale - time.Minute)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	openBrowser = s.browser("alice", nil)
	if _, errOut, err := s.login(); err != nil || !strings.Contains(errOut, "Taking over") {
		t.Fatalf("with a stale lock: %v; %s", err, errOut)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file is left behind: %v", err)
	}
}
