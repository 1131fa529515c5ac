package e2e

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/e2e/internal/e2eutil"
)

// deviceGrantType is the grant the bridge's client needs at the provider for the device way.
const deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// startScriptSite starts a site whose bridge opens Qlik sessions for scripts, with a client
// at oidc-provider that may use the device authorization grant.
func startScriptSite(t *testing.T) *site {
	return startSiteWith(t, "session", "scripts: {enabled: true}", func(c *e2eutil.Client) {
		c.GrantTypes = []string{"authorization_code", deviceGrantType}
	})
}

// scriptClient talks to the bridge as the login command does.
func (s *site) scriptClient() *bridge.ScriptClient {
	return &bridge.ScriptClient{BridgeURL: s.bridgeURL, HTTPClient: s.goBrowser()}
}

// enterUserCode plays the person: in Chromium it opens the provider's verification page,
// enters the user code and presses button, "confirm" or "abort", on the provider's
// confirmation page; after confirm it signs in as alice.
func (s *site) enterUserCode(t *testing.T, d *bridge.ScriptDevice, button string) {
	t.Helper()
	ctx := e2eutil.NewBrowserWith(t, e2eutil.BrowserOptions{
		Trust: []*x509.Certificate{s.op.CA}, Hosts: siteHosts})
	type step struct {
		name    string
		actions []chromedp.Action[chromedp.Void]
	}
	steps := []step{
		{"the code", []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(d.VerificationURI),
			chromedp.WaitVisible(chromedp.ID("continue")),
			chromedp.SendKeys(chromedp.CSS(`input[name="user_code"]`), d.UserCode),
			chromedp.Click(chromedp.ID("continue")),
		}},
		{"the confirmation", []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.ID(button)),
			chromedp.Click(chromedp.ID(button)),
		}},
	}
	if button == "confirm" {
		steps = append(steps, step{"the login form", []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.ID("login")),
			chromedp.SendKeys(chromedp.ID("username"), "alice"),
			chromedp.SendKeys(chromedp.ID("password"), alicePass),
			chromedp.Click(chromedp.ID("login")),
			chromedp.WaitVisible(chromedp.ID("success")),
		}})
	} else {
		steps = append(steps, step{"the page after aborting", []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.ID("error")),
		}})
	}
	for _, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := chromedp.Do(sctx, st.actions...)
		cancel()
		if err != nil {
			t.Fatalf("at %s on the provider's device pages: %v; %s", st.name, err,
				describePage(ctx))
		}
	}
}

// poll polls the bridge as the command does, honouring the interval and slow_down, until
// the answer is not pending.
func poll(t *testing.T, cli *bridge.ScriptClient, d *bridge.ScriptDevice, verifier string) (
	*bridge.ScriptSession, error) {
	t.Helper()
	interval := time.Duration(max(d.Interval, 1)) * time.Second
	deadline := time.Now().Add(time.Minute)
	for {
		time.Sleep(interval)
		sess, err := cli.PollDevice(context.Background(), d.Handle, verifier)
		var se *bridge.ScriptError
		switch {
		case errors.As(err, &se) && se.Code == bridge.ScriptErrSlowDown:
			interval += 5 * time.Second
		case errors.As(err, &se) && se.Code == bridge.ScriptErrPending:
		default:
			return sess, err
		}
		if time.Now().After(deadline) {
			t.Fatal("the device login did not finish within a minute")
		}
	}
}

// TestScriptDeviceLoginWithOIDCProvider runs the device way of "qlik-oidc-bridge login"
// against oidc-provider: the bridge starts the device authorization, Chromium enters the
// user code on the provider's pages, and the session the command receives is accepted by
// the simulated virtual proxy.
func TestScriptDeviceLoginWithOIDCProvider(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	s := startScriptSite(t)
	cli, ctx := s.scriptClient(), context.Background()
	info, err := cli.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.DeviceFlow {
		t.Fatalf("the bridge does not offer the device way with oidc-provider: %+v", info)
	}
	verifier, challenge, err := bridge.NewScriptVerifier()
	if err != nil {
		t.Fatal(err)
	}
	d, err := cli.StartDevice(ctx, "bi", challenge)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.VerificationURI, s.op.Issuer) {
		t.Fatalf("verification URI %s", d.VerificationURI)
	}
	var se *bridge.ScriptError
	if _, err := cli.PollDevice(ctx, d.Handle, verifier); !errors.As(err, &se) ||
		se.Code != bridge.ScriptErrPending {
		t.Fatalf("first poll: %v, want authorization_pending", err)
	}

	s.enterUserCode(t, d, "confirm")
	sess, err := poll(t, cli, d, verifier)
	if err != nil {
		t.Fatal(err)
	}

	// The simulated virtual proxy accepts the cookie.
	c := s.goBrowser()
	req, _ := http.NewRequest(http.MethodGet, sess.QlikURL+"hub/", nil)
	req.Header.Set("Cookie", sess.CookieName+"="+sess.CookieValue)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `Logged in as E2E\alice`) {
		t.Fatalf("the proxy answered %d: %s", resp.StatusCode, body)
	}
	s.checkOneSession(t)

	// What the command caches is alive, and reusing it opens nothing new.
	if alive, _, err := cli.Check(ctx, sess); err != nil || !alive {
		t.Errorf("check: %v %v", alive, err)
	}
	s.checkOneSession(t)
}

// TestScriptDeviceLoginAbortedAtOIDCProvider: the person aborts on the provider's
// confirmation page; the command is told, and no session is opened.
func TestScriptDeviceLoginAbortedAtOIDCProvider(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	s := startScriptSite(t)
	cli := s.scriptClient()
	verifier, challenge, err := bridge.NewScriptVerifier()
	if err != nil {
		t.Fatal(err)
	}
	d, err := cli.StartDevice(context.Background(), "bi", challenge)
	if err != nil {
		t.Fatal(err)
	}
	s.enterUserCode(t, d, "abort")
	_, err = poll(t, cli, d, verifier)
	var se *bridge.ScriptError
	if !errors.As(err, &se) || se.Code != bridge.ScriptErrDenied {
		t.Fatalf("got %v, want access_denied", err)
	}
	if n := len(s.qps.Sessions()); n != 0 {
		t.Errorf("%d sessions after an aborted login", n)
	}
}
