package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/e2e/internal/e2eutil"
)

// relyingPartyServer stands in for the bridge's browser side: it records the query of
// each callback and of each return after logout, and each back-channel logout token.
type relyingPartyServer struct {
	*httptest.Server
	callbacks    chan url.Values
	loggedOut    chan url.Values
	logoutTokens chan string
}

func newRelyingPartyServer(t *testing.T) *relyingPartyServer {
	rp := &relyingPartyServer{
		callbacks:    make(chan url.Values, 1),
		loggedOut:    make(chan url.Values, 1),
		logoutTokens: make(chan string, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		offer(rp.callbacks, r.URL.Query())
		fmt.Fprint(w, `<!DOCTYPE html><title>callback</title><p id="callback">back</p>`)
	})
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		offer(rp.loggedOut, r.URL.Query())
		fmt.Fprint(w, `<!DOCTYPE html><title>logged out</title><p id="logged-out">bye</p>`)
	})
	mux.HandleFunc("POST /backchannel", func(w http.ResponseWriter, r *http.Request) {
		offer(rp.logoutTokens, r.PostFormValue("logout_token"))
	})
	rp.Server = httptest.NewServer(mux)
	t.Cleanup(rp.Close)
	return rp
}

// client is the registration of this relying party at the provider.
func (rp *relyingPartyServer) client() e2eutil.Client {
	c := confidentialClient(rp.URL + "/callback")
	c.PostLogoutRedirectURIs = []string{rp.URL + "/logged-out"}
	c.BackchannelLogoutURI = rp.URL + "/backchannel"
	return c
}

// offer sends v on ch unless ch is full.
func offer[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// received returns what ch holds, failing t if it holds nothing.
func received[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	default:
		t.Fatalf("the relying party received no %s", what)
		panic("unreachable")
	}
}

func TestBrowserReadsTitle(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!DOCTYPE html><title>e2e title check</title><p>hello</p>")
	}))
	defer srv.Close()

	ctx := e2eutil.NewBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "e2e title check" {
		t.Errorf("title = %q", title)
	}
}

func TestBrowserSignsInAndOutAtProvider(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	rp := newRelyingPartyServer(t)
	op := testOP(t, rp.client())
	ctx, provider, cfg := relyingParty(t, op, rp.URL+"/callback")
	browser := e2eutil.NewBrowser(t, op.CA)

	// Sign in through the provider's HTML form.
	state, nonce, verifier := randomString(t), randomString(t), oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	err := chromedp.Do(browser,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), alicePass),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("callback")),
	)
	if err != nil {
		t.Fatalf("browser sign-in: %v", err)
	}
	q := received(t, rp.callbacks, "callback")
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback has error=%q, state ok=%v, code present=%v",
			q.Get("error"), q.Get("state") == state, q.Get("code") != "")
	}
	tok, idt := exchange(t, ctx, provider, cfg, q.Get("code"), verifier, nonce)
	var claims userClaims
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	claims.check(t, "ID token")

	// Sign out at the provider, which tells the relying party over the back channel.
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("no end_session_endpoint in discovery: %v", err)
	}
	logoutURL := meta.EndSession + "?" + url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {rp.URL + "/logged-out"},
		"state":                    {"after-logout"},
	}.Encode()
	err = chromedp.Do(browser,
		chromedp.Navigate(logoutURL),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("logged-out")),
	)
	if err != nil {
		t.Fatalf("browser sign-out: %v", err)
	}
	if got := received(t, rp.loggedOut, "return after logout").Get("state"); got != "after-logout" {
		t.Errorf("state after logout = %q", got)
	}
	checkLogoutToken(t, ctx, provider, received(t, rp.logoutTokens, "logout token"))
}

// checkLogoutToken verifies a back-channel logout token for alice.
func checkLogoutToken(t *testing.T, ctx context.Context, p *oidc.Provider, raw string) {
	t.Helper()
	lt, err := p.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verifying the logout token: %v", err)
	}
	var claims struct {
		Events map[string]any `json:"events"`
	}
	if err := lt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	const event = "http://schemas.openid.net/event/backchannel-logout"
	if _, ok := claims.Events[event]; !ok || lt.Subject != "alice-0001" {
		t.Errorf("logout token sub=%q events=%v, want alice's logout event", lt.Subject, claims.Events)
	}
}

func TestBrowserRefusesUntrustedCertificate(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	op := testOP(t, confidentialClient("http://127.0.0.1/callback"))

	ctx := e2eutil.NewBrowser(t) // trusts nothing but the system roots
	err := chromedp.Do(ctx, chromedp.Navigate(op.Issuer+"/.well-known/openid-configuration"))
	if err == nil || !strings.Contains(err.Error(), "CERT") {
		t.Errorf("navigating to the provider without trusting its CA: %v, want a certificate error",
			err)
	}
}

func TestBrowserResolvesOnlyListedHosts(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<!DOCTYPE html><title>%s</title>", r.Host)
	}))
	defer srv.Close()
	_, port, _ := strings.Cut(srv.Listener.Addr().String(), ":")

	ctx := e2eutil.NewBrowserWith(t, e2eutil.BrowserOptions{Hosts: []string{"qlik.test"}})
	if err := chromedp.Do(ctx, chromedp.Navigate("http://qlik.test:"+port+"/")); err != nil {
		t.Fatalf("navigating to a listed host: %v", err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "qlik.test:"+port {
		t.Errorf("title = %q, %v; want qlik.test:%s", title, err, port)
	}

	err := chromedp.Do(ctx, chromedp.Navigate("http://unlisted.invalid:"+port+"/"))
	if err == nil || !strings.Contains(err.Error(), "ERR_NAME_NOT_RESOLVED") {
		t.Errorf("navigating to an unlisted host: %v, want ERR_NAME_NOT_RESOLVED", err)
	}
}
