package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// The tests of command-line logins drive the bridge's /cli endpoints the way the command
// does: a "command" holds the code verifier, a browser signs in at the provider.

// loopback is the command's listener; nothing needs to listen, the tests read the redirect.
const loopback = "http://127.0.0.1:49152/callback"

// scriptOptions turns scripts on, with the device flow at the provider when device is set;
// extra is added to the scripts block.
func scriptOptions(device bool, extra string) envOptions {
	var o envOptions
	o.config = func(s string) string { return s + "scripts: {enabled: true" + extra + "}\n" }
	if device {
		o.idp = func(c *oidctest.Config) { c.DeviceFlow = true }
	}
	return o
}

// scriptEnv starts a site with scripts on. The provider shares the bridge's clock, so a
// test can let time pass for both.
func scriptEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	var e *env
	idp := o.idp
	o.idp = func(c *oidctest.Config) {
		if idp != nil {
			idp(c)
		}
		c.Now = func() time.Time { return e.clock.Now() }
	}
	e = newEnv(t, o)
	return e
}

func (e *env) scriptClient() *bridge.ScriptClient {
	return &bridge.ScriptClient{BridgeURL: e.bridge.URL,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}}
}

// command is what a waiting command holds.
type command struct {
	verifier, challenge string
}

func newCommand(t *testing.T) command {
	v, c, err := bridge.NewScriptVerifier()
	if err != nil {
		t.Fatal(err)
	}
	return command{v, c}
}

// scriptAuthorize opens the browser way's login URL in c, signs in as user, presses Allow
// on the bridge's confirmation page and returns where the bridge sends the browser: the
// command's loopback URL.
func (e *env) scriptAuthorize(c *http.Client, loginURL, user string) *url.URL {
	e.t.Helper()
	page := e.consentPage(c, e.authorize(c, loginURL, user))
	resp := e.answer(c, page, false, "same-origin")
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("Allow answered %d without a redirect", resp.StatusCode)
	}
	return loc
}

// consentForm is the form of the bridge's confirmation page.
type consentForm struct {
	body, action string
	fields       url.Values
}

var (
	formTag     = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// consentPage opens the callback URL back in c and returns the confirmation page's form,
// failing the test when the bridge answers anything else, a redirect above all.
func (e *env) consentPage(c *http.Client, back string) consentForm {
	e.t.Helper()
	resp, err := c.Get(back)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formTag.FindStringSubmatch(string(body))
	if resp.StatusCode != http.StatusOK || m == nil {
		e.t.Fatalf("the callback answered %d (Location %q), not the confirmation page: %s",
			resp.StatusCode, resp.Header.Get("Location"), body)
	}
	f := consentForm{body: string(body), action: html.UnescapeString(m[1]),
		fields: url.Values{}}
	for _, m := range hiddenField.FindAllStringSubmatch(string(body), -1) {
		f.fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return f
}

// answer posts the confirmation form from c, pressing Cancel when cancel is set, as a
// browser whose Sec-Fetch-Site is site ("" for none). It returns the bridge's answer.
func (e *env) answer(c *http.Client, f consentForm, cancel bool, site string) *http.Response {
	e.t.Helper()
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = vs
	}
	if cancel {
		v.Set("cancel", "1")
	}
	req, _ := http.NewRequest(http.MethodPost, f.action, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	} else {
		// A browser too old for Fetch Metadata: past the transport that adds the header.
		c = &http.Client{Jar: c.Jar, CheckRedirect: c.CheckRedirect,
			Transport: e.idpSrv.Client().Transport}
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// browserCode runs the browser way for cmd up to the code the command's listener gets.
func (e *env) browserCode(cmd command, prefix, user string) string {
	e.t.Helper()
	u := e.scriptClient().LoginURL(prefix, loopback, cmd.challenge, "st-1")
	loc := e.scriptAuthorize(e.newBrowser(), u, user)
	if !strings.HasPrefix(loc.String(), loopback+"?") || loc.Query().Get("state") != "st-1" {
		e.t.Fatalf("the browser was sent to %s, want the command's listener with its state",
			loc.Redacted())
	}
	return loc.Query().Get("code")
}

// throughProxy asks the simulated virtual proxy for the hub with the session's cookie and
// returns the user the page names.
func (e *env) throughProxy(s *bridge.ScriptSession) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.QlikURL+"hub/", nil)
	req.Header.Set("Cookie", s.CookieName+"="+s.CookieValue)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("the virtual proxy answered %d to the script's cookie: %s", resp.StatusCode,
			resp.Header.Get("Location"))
	}
	return loggedInAs(string(body))
}

// wantScriptError checks that err is a ScriptError with the code.
func wantScriptError(t *testing.T, err error, code string) *bridge.ScriptError {
	t.Helper()
	var se *bridge.ScriptError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("got %v, want the bridge's %s", err, code)
	}
	if se.Description == "" || se.Reference == "" {
		t.Errorf("%s without a description or reference: %+v", code, se)
	}
	return se
}

func TestScriptBrowserLogin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  string
		nodes int
	}{
		{"session mode", "session", 1},
		{"ticket mode adds a session too", "ticket", 1},
		{"every node of the virtual proxy", "session", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := scriptOptions(false, "")
			o.mode, o.nodes = tc.mode, tc.nodes
			e := scriptEnv(t, o)
			cmd := newCommand(t)
			code := e.browserCode(cmd, "bi", "alice")
			// The sign-in alone opens no Qlik session: only the command's redeem does.
			if n := len(e.qps.Sessions()); n != 0 {
				t.Fatalf("%d sessions before the command redeemed its code", n)
			}

			s, err := e.scriptClient().Redeem(context.Background(), code, cmd.verifier)
			if err != nil {
				t.Fatal(err)
			}
			if s.CookieName != "X-Qlik-Session-bi-HTTP" || s.UserID != "alice" ||
				s.QlikURL != e.qps.BrowserURL()+"/bi/" || !s.HostOnly || s.Secure ||
				s.CookieDomain != "127.0.0.1" || s.CookiePath != "/" ||
				!s.Expires.Equal(e.clock.Now().Add(30*time.Minute)) {
				t.Errorf("session %+v", s)
			}
			for i, n := range e.nodes {
				if got := len(n.Sessions()); got != 1 {
					t.Errorf("node %d holds %d sessions, want 1", i, got)
				}
			}
			if got := e.throughProxy(s); got != `TEST\alice` {
				t.Errorf("the proxy's page names %q", got)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, `"msg":"login completed"`) ||
				!strings.Contains(logs, `"script":true,"way":"browser"`) {
				t.Errorf("no audit line for a script login: %s", logs)
			}
			for _, secret := range []string{code, cmd.verifier, s.CookieValue} {
				if strings.Contains(logs, secret) {
					t.Errorf("the log holds a code, verifier or session id")
				}
			}
		})
	}
}

func TestScriptDeviceLogin(t *testing.T) {
	e := scriptEnv(t, scriptOptions(true, ""))
	cli, ctx, cmd := e.scriptClient(), context.Background(), newCommand(t)
	info, err := cli.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.DeviceFlow || !info.BrowserFlow || len(info.Proxies) != 1 ||
		info.Proxies[0].Prefix != "bi" {
		t.Fatalf("info %+v", info)
	}

	d, err := cli.StartDevice(ctx, "bi", cmd.challenge)
	if err != nil {
		t.Fatal(err)
	}
	if d.UserCode == "" || d.Interval != 5 || d.ExpiresIn != 600 ||
		!strings.HasPrefix(d.VerificationURI, e.idpSrv.URL) {
		t.Fatalf("device login %+v", d)
	}
	_, err = cli.PollDevice(ctx, d.Handle, cmd.verifier)
	wantScriptError(t, err, bridge.ScriptErrPending)

	if err := oidctest.ApproveDevice(e.idpSrv.Client(), d.VerificationURI, d.UserCode,
		"alice", "alice"); err != nil {
		t.Fatal(err)
	}
	// Polling again at once is too fast for the provider, and the command is told so.
	_, err = cli.PollDevice(ctx, d.Handle, cmd.verifier)
	wantScriptError(t, err, bridge.ScriptErrSlowDown)
	e.clock.Advance(10 * time.Second)
	s, err := cli.PollDevice(ctx, d.Handle, cmd.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.throughProxy(s); got != `TEST\alice` {
		t.Errorf("the proxy's page names %q", got)
	}
	if !strings.Contains(e.logs.String(), `"script":true,"way":"device"`) {
		t.Errorf("no audit line for a device login")
	}
	if strings.Contains(e.logs.String(), d.Handle) {
		t.Errorf("the log holds the handle")
	}

	// The handle is spent.
	e.clock.Advance(10 * time.Second)
	_, err = cli.PollDevice(ctx, d.Handle, cmd.verifier)
	wantScriptError(t, err, bridge.ScriptErrInvalidGrant)
	if n := len(e.qps.Sessions()); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

func TestScriptInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		device  bool
		extra   string
		want    bool
		proxies int
	}{
		{"provider without the device grant", false, "", false, 1},
		{"provider with it", true, "", true, 1},
		{"device flow turned off", true, ", device_flow: off", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := scriptEnv(t, scriptOptions(tc.device, tc.extra))
			info, err := e.scriptClient().Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.DeviceFlow != tc.want || len(info.Proxies) != tc.proxies {
				t.Errorf("info %+v", info)
			}
			if !tc.want {
				_, err := e.scriptClient().StartDevice(context.Background(), "bi",
					newCommand(t).challenge)
				wantScriptError(t, err, bridge.ScriptErrNoDevice)
			}
		})
	}
}

// Each step between the command and the bridge is bound to the command's verifier and
// redeemed once.
func TestScriptStolenOrReplayedSteps(t *testing.T) {
	ctx := context.Background()
	t.Run("code with another verifier", func(t *testing.T) {
		e := scriptEnv(t, scriptOptions(false, ""))
		cmd := newCommand(t)
		code := e.browserCode(cmd, "bi", "alice")
		_, err := e.scriptClient().Redeem(ctx, code, newCommand(t).verifier)
		wantScriptError(t, err, bridge.ScriptErrInvalidGrant)
		if n := len(e.qps.Sessions()); n != 0 {
			t.Fatalf("a stolen code opened %d sessions", n)
		}
		// The thief's attempt does not spend the code of the real command.
		if _, err := e.scriptClient().Redeem(ctx, code, cmd.verifier); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("code redeemed twice", func(t *testing.T) {
		e := scriptEnv(t, scriptOptions(false, ""))
		cmd := newCommand(t)
		code := e.browserCode(cmd, "bi", "alice")
		if _, err := e.scriptClient().Redeem(ctx, code, cmd.verifier); err != nil {
			t.Fatal(err)
		}
		_, err := e.scriptClient().Redeem(ctx, code, cmd.verifier)
		wantScriptError(t, err, bridge.ScriptErrInvalidGrant)
		if n := len(e.qps.Sessions()); n != 1 {
			t.Errorf("%d sessions, want 1", n)
		}
	})
	t.Run("code redeemed late", func(t *testing.T) {
		e := scriptEnv(t, scriptOptions(false, ""))
		cmd := newCommand(t)
		code := e.browserCode(cmd, "bi", "alice")
		e.clock.Advance(3 * time.Minute)
		_, err := e.scriptClient().Redeem(ctx, code, cmd.verifier)
		wantScriptError(t, err, bridge.ScriptErrInvalidGrant)
	})
	t.Run("forged code", func(t *testing.T) {
		e := scriptEnv(t, scriptOptions(false, ""))
		_, err := e.scriptClient().Redeem(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			newCommand(t).verifier)
		wantScriptError(t, err, bridge.ScriptErrInvalidGrant)
	})
	t.Run("device handle as a code", func(t *testing.T) {
		e := scriptEnv(t, scriptOptions(true, ""))
		cmd := newCommand(t)
		d, err := e.scriptClient().StartDevice(ctx, "bi", cmd.challenge)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.scriptClient().Redeem(ctx, d.Handle, cmd.verifier)
		wantScriptError(t, err, bridge.ScriptErrInvalidGrant)
	})
	t.Run("device handle with another verifier never reaches the provider", func(t *testing.T) {
		e := scriptEnv(t, scriptOptions(true, ""))
		cmd := newCommand(t)
		cli := e.scriptClient()
		d, err := cli.StartDevice(ctx, "bi", cmd.challenge)
		if err != nil {
			t.Fatal(err)
		}
		if err := oidctest.ApproveDevice(e.idpSrv.Client(), d.VerificationURI, d.UserCode,
			"alice", "alice"); err != nil {
			t.Fatal(err)
		}
		_, err = cli.PollDevice(ctx, d.Handle, newCommand(t).verifier)
		wantScriptError(t, err, bridge.ScriptErrInvalidGrant)
		// Had the thief's poll reached the provider, this one would be too fast for it.
		if _, err := cli.PollDevice(ctx, d.Handle, cmd.verifier); err != nil {
			t.Fatal(err)
		}
	})
}

func TestScriptDeviceRefusals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		extra func(string) string // edits the bridge's configuration
		act   func(t *testing.T, e *env, d *bridge.ScriptDevice)
		code  string
	}{
		{name: "abandoned: nobody enters the code", code: bridge.ScriptErrExpired,
			act: func(t *testing.T, e *env, d *bridge.ScriptDevice) {
				e.clock.Advance(11 * time.Minute)
			}},
		{name: "denied at the provider", code: bridge.ScriptErrDenied,
			act: func(t *testing.T, e *env, d *bridge.ScriptDevice) {
				if err := oidctest.DenyDevice(e.idpSrv.Client(), d.VerificationURI,
					d.UserCode); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "refused by the access rules", code: bridge.ScriptErrRefused,
			extra: func(s string) string {
				return strings.Replace(s, "access: {any_authenticated_user: true}",
					"access: {groups: [Finance]}", 1)
			},
			act: func(t *testing.T, e *env, d *bridge.ScriptDevice) {
				if err := oidctest.ApproveDevice(e.idpSrv.Client(), d.VerificationURI,
					d.UserCode, "alice", "alice"); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := scriptOptions(true, "")
			if tc.extra != nil {
				cfg := o.config
				o.config = func(s string) string { return tc.extra(cfg(s)) }
			}
			e := scriptEnv(t, o)
			cmd := newCommand(t)
			d, err := e.scriptClient().StartDevice(ctx, "bi", cmd.challenge)
			if err != nil {
				t.Fatal(err)
			}
			tc.act(t, e, d)
			_, err = e.scriptClient().PollDevice(ctx, d.Handle, cmd.verifier)
			se := wantScriptError(t, err, tc.code)
			if tc.code == bridge.ScriptErrRefused &&
				!strings.Contains(se.Description, "not in a group") {
				t.Errorf("the refusal does not say why: %s", se.Description)
			}
			if n := len(e.qps.Sessions()); n != 0 {
				t.Errorf("%d sessions, want none", n)
			}
		})
	}
}

// A refused user of the browser way is told why, and no session is opened: in the browser,
// or, once the callback hands refusals of script logins to scriptRefused, at the command's
// listener, which then ends the command with the reason.
func TestScriptBrowserRefusedUser(t *testing.T) {
	o := scriptOptions(false, "")
	cfg := o.config
	o.config = func(s string) string {
		return strings.Replace(cfg(s), "access: {any_authenticated_user: true}",
			"access: {groups: [Finance]}", 1)
	}
	e := scriptEnv(t, o)
	c := e.newBrowser()
	back := e.authorize(c, e.scriptClient().LoginURL("bi", loopback, newCommand(t).challenge,
		"st-1"), "alice")
	resp, err := c.Get(back)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("the refusal stayed in the browser (%d): the command would wait", resp.StatusCode)
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), loopback+"?") || q.Get("error") != "refused" ||
		!strings.Contains(q.Get("error_description"), "not in a group") ||
		q.Get("state") != "st-1" || q.Has("code") {
		t.Errorf("refusal sent to %s", loc.Redacted())
	}
	if n := len(e.qps.Sessions()); n != 0 {
		t.Errorf("%d sessions, want none", n)
	}
}

// A sign-in cancelled at the provider, or a login whose flow cookie is gone, goes back to
// the waiting command with an error instead of stopping in the browser.
func TestScriptBrowserCancelledGoesBackToTheCommand(t *testing.T) {
	e := scriptEnv(t, scriptOptions(false, ""))
	for _, tc := range []struct{ name, code string }{
		{"cancelled", "access_denied"},
		{"flow cookie lost", "idp_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.newBrowser()
			start := e.scriptClient().LoginURL("bi", loopback, newCommand(t).challenge, "st-2")
			var back string
			if tc.code == "access_denied" {
				r := e.visit(c, start)
				u, err := oidctest.Deny(c, r.URL)
				if err != nil {
					t.Fatal(err)
				}
				back = u.String()
			} else {
				back = e.authorize(c, start, "alice")
				c = e.newBrowser() // another browser: no flow cookie
			}
			resp, err := c.Get(back)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := resp.Location()
			if err != nil || !strings.HasPrefix(loc.String(), loopback+"?") ||
				loc.Query().Get("error") != tc.code || loc.Query().Get("state") != "st-2" {
				t.Fatalf("%d, sent to %v", resp.StatusCode, loc)
			}
		})
	}
}

// The browser way only ever returns to a loopback IP literal with a port, and needs the
// command's S256 challenge; anything else stops at the bridge.
func TestScriptLoginRefusesNonLoopbackRedirects(t *testing.T) {
	e := scriptEnv(t, scriptOptions(false, ""))
	challenge := newCommand(t).challenge
	for _, tc := range []struct{ name, redirect, challenge, method string }{
		{"https elsewhere", "https://evil.example/cb", challenge, "S256"},
		{"http elsewhere", "http://evil.example:8080/cb", challenge, "S256"},
		{"localhost by name", "http://localhost:49152/cb", challenge, "S256"},
		{"no port", "http://127.0.0.1/cb", challenge, "S256"},
		{"a query", "http://127.0.0.1:49152/cb?next=x", challenge, "S256"},
		{"user info", "http://a@127.0.0.1:49152/cb", challenge, "S256"},
		{"private address", "http://10.0.0.1:49152/cb", challenge, "S256"},
		{"no challenge", loopback, "", "S256"},
		{"plain challenge", loopback, challenge, "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{"proxy": {"bi"}, "redirect_uri": {tc.redirect},
				"code_challenge": {tc.challenge}, "code_challenge_method": {tc.method}}
			r := e.visit(e.newBrowser(), e.bridge.URL+"/cli/login?"+v.Encode())
			if r.Status != http.StatusBadRequest || len(r.Hops) != 1 {
				t.Errorf("got %d after %q, want 400 at the bridge", r.Status, r.Hops)
			}
		})
	}
	// IPv6 loopback is fine.
	u := e.scriptClient().LoginURL("bi", "http://[::1]:49152/cb", challenge, "")
	if r := e.visit(e.newBrowser(), u); !strings.HasPrefix(r.URL, e.idpSrv.URL) {
		t.Errorf("[::1] refused: %d %s", r.Status, r.Body)
	}
}

func TestScriptUnknownProxy(t *testing.T) {
	ctx := context.Background()
	// The bridge serves bi and sales; scripts may use only sales.
	o := scriptOptions(true, ", proxies: [sales]")
	cfg := o.config
	o.config = func(s string) string {
		s = cfg(s)
		start, end := strings.Index(s, "    - prefix: bi"), strings.Index(s, "mapping:")
		return s[:end] + strings.ReplaceAll(s[start:end], "bi", "sales") + s[end:]
	}
	e := scriptEnv(t, o)
	info, err := e.scriptClient().Info(ctx)
	if err != nil || len(info.Proxies) != 1 || info.Proxies[0].Prefix != "sales" {
		t.Fatalf("info %+v, %v", info, err)
	}
	for _, prefix := range []string{"bi", "nope"} {
		_, err := e.scriptClient().StartDevice(ctx, prefix, newCommand(t).challenge)
		wantScriptError(t, err, bridge.ScriptErrUnknownProxy)
		u := e.scriptClient().LoginURL(prefix, loopback, newCommand(t).challenge, "")
		if r := e.visit(e.newBrowser(), u); r.Status != http.StatusNotFound ||
			!strings.Contains(r.Body, "Unknown Qlik proxy") {
			t.Errorf("browser way to %s: %d %s", prefix, r.Status, r.Body)
		}
	}
	cmd := newCommand(t)
	s, err := e.scriptClient().Redeem(ctx, e.browserCode(cmd, "sales", "bob"), cmd.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if s.Proxy != "sales" || s.CookieName != "X-Qlik-Session-sales-HTTP" {
		t.Errorf("session %+v", s)
	}
	if got := e.throughProxy(s); got != `TEST\bob` {
		t.Errorf("the proxy's page names %q", got)
	}
}

func TestScriptsDisabled(t *testing.T) {
	ctx := context.Background()
	e := scriptEnv(t, envOptions{idp: func(c *oidctest.Config) { c.DeviceFlow = true }})
	cli := e.scriptClient()
	_, err := cli.Info(ctx)
	wantScriptError(t, err, bridge.ScriptErrDisabled)
	_, err = cli.StartDevice(ctx, "bi", newCommand(t).challenge)
	wantScriptError(t, err, bridge.ScriptErrDisabled)
	_, err = cli.Redeem(ctx, "x", newCommand(t).verifier)
	wantScriptError(t, err, bridge.ScriptErrDisabled)
	r := e.visit(e.newBrowser(), cli.LoginURL("bi", loopback, newCommand(t).challenge, ""))
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "turned off") {
		t.Errorf("browser way: %d %s", r.Status, r.Body)
	}
}

func TestScriptSessionCheckAndLogout(t *testing.T) {
	o := scriptOptions(false, "")
	o.nodes = 2
	e := scriptEnv(t, o)
	ctx, cli, cmd := context.Background(), e.scriptClient(), newCommand(t)
	s, err := cli.Redeem(ctx, e.browserCode(cmd, "bi", "alice"), cmd.verifier)
	if err != nil {
		t.Fatal(err)
	}
	alive, _, err := cli.Check(ctx, s)
	if err != nil || !alive {
		t.Fatalf("check: %v, %v", alive, err)
	}
	if err := cli.Logout(ctx, s); err != nil {
		t.Fatal(err)
	}
	for i, n := range e.nodes {
		if got := len(n.Sessions()); got != 0 {
			t.Errorf("node %d still holds %d sessions", i, got)
		}
	}
	alive, _, err = cli.Check(ctx, s)
	if err != nil || alive {
		t.Errorf("check after logout: %v, %v", alive, err)
	}
	bad := *s
	bad.CookieValue = "not-a-session"
	_, _, err = cli.Check(ctx, &bad)
	wantScriptError(t, err, bridge.ScriptErrInvalidRequest)
}

// The endpoints read only JSON, so that an HTML form of another site cannot post to them.
func TestScriptEndpointsReadOnlyJSON(t *testing.T) {
	e := scriptEnv(t, scriptOptions(true, ""))
	resp, err := http.PostForm(e.bridge.URL+"/cli/logout",
		url.Values{"proxy": {"bi"}, "session_id": {"00000000-0000-4000-8000-000000000000"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a form post answered %d, want 400", resp.StatusCode)
	}
}

// The command never follows a redirect: it would carry a verifier or a session id to
// another address.
func TestScriptClientFollowsNoRedirect(t *testing.T) {
	var reached bool
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		reached = true
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	sc := &bridge.ScriptClient{BridgeURL: redirector.URL}
	err := sc.Logout(context.Background(), &bridge.ScriptSession{
		Proxy: "bi", CookieValue: "a1f39ab4-0000-4000-8000-000000000000"})
	if err == nil || !strings.Contains(err.Error(), "redirected") || reached {
		t.Fatalf("err = %v, reached = %v", err, reached)
	}
}

// A link to /cli/login can be made by anyone, with their own challenge and a listener of
// theirs on the user's computer, and the provider may sign the user in silently. So the
// callback never sends the browser to the loopback address: the user is asked first on the
// bridge's own page, and only its form, posted from that page, passes the code on.
func TestScriptBrowserAsksBeforeTheCommandGetsACode(t *testing.T) {
	e := scriptEnv(t, scriptOptions(false, ""))
	start := func(state string) consentForm {
		c := e.newBrowser()
		u := e.scriptClient().LoginURL("bi", loopback, newCommand(t).challenge, state)
		return e.consentPage(c, e.authorize(c, u, "alice"))
	}
	f := start("st-3")
	if !strings.Contains(f.body, `as TEST\alice for the virtual proxy &#34;bi&#34;`) ||
		!strings.Contains(f.body, ">Allow<") || !strings.Contains(f.body, ">Cancel<") ||
		f.action != e.bridge.URL+"/cli/login" || f.fields.Get("consent") == "" {
		t.Fatalf("confirmation page %q, form %+v", f.body, f)
	}
	if strings.Contains(f.body, "127.0.0.1:49152") {
		t.Errorf("the page names the command's listener")
	}
	if n := len(e.qps.Sessions()); n != 0 {
		t.Fatalf("%d sessions before anyone allowed", n)
	}

	// A post that another site sends, or that does not come from the page, is refused
	// and spends nothing.
	for _, site := range []string{"cross-site", "same-site", "none"} {
		resp := e.answer(e.newBrowser(), f, false, site)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Errorf("Sec-Fetch-Site %s: %d to %q", site, resp.StatusCode,
				resp.Header.Get("Location"))
		}
	}
	forged := consentForm{action: f.action, fields: url.Values{"consent": {"AAAA"}}}
	if resp := e.answer(e.newBrowser(), forged, false, "same-origin"); resp.StatusCode !=
		http.StatusBadRequest {
		t.Errorf("a forged consent answered %d", resp.StatusCode)
	}

	// Cancel tells the command, and the consent is spent.
	resp := e.answer(e.newBrowser(), f, true, "same-origin")
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(loc.String(), loopback+"?") ||
		loc.Query().Get("error") != bridge.ScriptErrDenied || loc.Query().Has("code") ||
		loc.Query().Get("state") != "st-3" {
		t.Fatalf("Cancel: %d to %v", resp.StatusCode, loc)
	}
	if resp := e.answer(e.newBrowser(), f, false, "same-origin"); resp.StatusCode !=
		http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("Allow after Cancel: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A browser that sends no Sec-Fetch-Site may still allow from the page.
	resp = e.answer(e.newBrowser(), start("st-4"), false, "")
	if loc, err := resp.Location(); err != nil || loc.Query().Get("code") == "" {
		t.Errorf("Allow without Sec-Fetch-Site: %d to %v", resp.StatusCode, loc)
	}
	if n := len(e.qps.Sessions()); n != 0 {
		t.Errorf("%d sessions before a command redeemed a code", n)
	}
}

// The confirmation page lets its form lead to the command's listener, as the browser
// checks the redirect after the post against form-action, and cannot be framed.
func TestScriptConfirmationPagePolicy(t *testing.T) {
	e := scriptEnv(t, scriptOptions(false, ""))
	for _, tc := range []struct{ redirect, source string }{
		{loopback, "http://127.0.0.1:49152"},
		{"http://[::1]:49152/cb", "http:"}, // Chromium reads no IPv6 address in a source
	} {
		c := e.newBrowser()
		u := e.scriptClient().LoginURL("bi", tc.redirect, newCommand(t).challenge, "")
		resp, err := c.Get(e.authorize(c, u, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := strings.Split(resp.Header.Get("Content-Security-Policy"), "; ")
		if !slices.Contains(csp, "form-action 'self' "+tc.source) ||
			!slices.Contains(csp, "frame-ancestors 'none'") ||
			resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: policy %q, frame options %q", tc.redirect, csp,
				resp.Header.Get("X-Frame-Options"))
		}
	}
}

// A confirmation answered after its time tells the command so, with no code.
func TestScriptConfirmationExpires(t *testing.T) {
	e := scriptEnv(t, scriptOptions(false, ""))
	c := e.newBrowser()
	u := e.scriptClient().LoginURL("bi", loopback, newCommand(t).challenge, "st-5")
	f := e.consentPage(c, e.authorize(c, u, "alice"))
	e.clock.Advance(11 * time.Minute)
	resp := e.answer(c, f, false, "same-origin")
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("error") != bridge.ScriptErrExpired ||
		loc.Query().Has("code") || loc.Query().Get("state") != "st-5" {
		t.Errorf("late Allow: %d to %v", resp.StatusCode, loc)
	}
}

// Every free-form parameter of /cli/login is bounded: each travels, sealed, through the
// identity provider's URL.
func TestScriptLoginBoundsItsParameters(t *testing.T) {
	e := scriptEnv(t, scriptOptions(false, ""))
	challenge := newCommand(t).challenge
	long := strings.Repeat("a", 600)
	for _, tc := range []struct{ name, param, value, says string }{
		{"long redirect_uri", "redirect_uri", loopback + "/" + long, "longer than 512 bytes"},
		{"long proxy", "proxy", long, "longer than 128 bytes"},
		{"long state", "state", long, "at most 128 printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{"proxy": {"bi"}, "redirect_uri": {loopback},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			v.Set(tc.param, tc.value)
			r := e.visit(e.newBrowser(), e.bridge.URL+"/cli/login?"+v.Encode())
			if r.Status != http.StatusBadRequest || len(r.Hops) != 1 ||
				!strings.Contains(r.Body, tc.says) {
				t.Errorf("got %d after %d hops: %s", r.Status, len(r.Hops), r.Body)
			}
		})
	}
}

// The endpoints' errors speak of the JSON a command sent, never of the bridge's Go types,
// and a body over the limit is called too large.
func TestScriptErrorsSpeakJSON(t *testing.T) {
	e := scriptEnv(t, scriptOptions(true, ""))
	for _, tc := range []struct {
		name, path, body string
		status           int
		says             string
	}{
		{"a number for a string", "/cli/device", `{"proxy": 1}`, 400, `"proxy" must be a string`},
		{"an array for the body", "/cli/token", `[]`, 400, "must be a JSON object"},
		{"an unknown field", "/cli/token", `{"code": "x", "extra": 1}`, 400,
			`unknown field "extra"`},
		{"cut short", "/cli/session", `{"proxy": "bi"`, 400, "ends inside"},
		{"not JSON", "/cli/device", `proxy=bi`, 400, "not valid JSON"},
		{"empty", "/cli/device", ``, 400, "empty"},
		{"too large", "/cli/device", `{"proxy": "` + strings.Repeat("a", 20<<10) + `"}`,
			413, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(e.bridge.URL+tc.path, "application/json",
				strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var se bridge.ScriptError
			err = json.NewDecoder(resp.Body).Decode(&se)
			resp.Body.Close()
			if err != nil || resp.StatusCode != tc.status || se.Code != "invalid_request" ||
				!strings.Contains(se.Description, tc.says) {
				t.Errorf("%d %+v (%v), want %d saying %q", resp.StatusCode, se, err,
					tc.status, tc.says)
			}
			for _, goWord := range []string{"bridge.", "Go ", "struct", "Request", "EOF"} {
				if strings.Contains(se.Description, goWord) {
					t.Errorf("the answer names %q: %s", goWord, se.Description)
				}
			}
		})
	}
}
