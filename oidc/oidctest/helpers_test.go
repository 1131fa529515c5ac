package oidctest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

const (
	callback   = "https://rp.example.com/callback"
	basicID    = "bridge"
	basicSec   = "s3cret with space+plus:colon%" // exercises the Basic form encoding
	postID     = "post-client"
	postSecret = "post-secret"
)

// testKey is generated once and shared, to keep the tests fast.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// clock is a settable clock that is safe to read from server goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a running provider with two clients, one per auth method, and a
// go-oidc relying party pointed at it.
type env struct {
	p      *oidctest.Provider
	srv    *httptest.Server
	clock  *clock
	ctx    context.Context
	rp     *oidc.Provider
	basic  oauth2.Config
	post   oauth2.Config
	client *http.Client
}

func baseConfig(c *clock) oidctest.Config {
	return oidctest.Config{
		Users: oidctest.DemoUsers(),
		Clients: []oidctest.Client{
			{ID: basicID, Secret: basicSec, RedirectURIs: []string{callback},
				PostLogoutRedirectURIs: []string{"https://rp.example.com/bye"}},
			{ID: postID, Secret: postSecret, AuthMethod: "client_secret_post",
				RedirectURIs: []string{"https://rp.example.com/other?tenant=a"}},
		},
		Now: c.Now,
		Key: testKey(),
	}
}

// setup starts a provider; edit, if not nil, changes the configuration.
func setup(t *testing.T, edit func(*oidctest.Config)) *env {
	t.Helper()
	c := &clock{t: time.Unix(1700000000, 0)}
	cfg := baseConfig(c)
	if edit != nil {
		edit(&cfg)
	}
	p, srv := oidctest.NewServer(t, cfg)
	ctx := oidc.ClientContext(t.Context(), srv.Client())
	rp, err := oidc.NewProvider(ctx, srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	scopes := []string{oidc.ScopeOpenID, "profile", "email"}
	return &env{
		p: p, srv: srv, clock: c, ctx: ctx, rp: rp, client: srv.Client(),
		basic: oauth2.Config{ClientID: basicID, ClientSecret: basicSec,
			Endpoint:    withStyle(rp.Endpoint(), oauth2.AuthStyleInHeader),
			RedirectURL: callback, Scopes: scopes},
		post: oauth2.Config{ClientID: postID, ClientSecret: postSecret,
			Endpoint:    withStyle(rp.Endpoint(), oauth2.AuthStyleInParams),
			RedirectURL: "https://rp.example.com/other?tenant=a", Scopes: scopes},
	}
}

func withStyle(e oauth2.Endpoint, s oauth2.AuthStyle) oauth2.Endpoint {
	e.AuthStyle = s
	return e
}

// attempt is one authorization request of a relying party.
type attempt struct {
	state, nonce, verifier, url string
}

// start builds an authorization request with state, nonce and PKCE.
func start(cfg oauth2.Config, opts ...oauth2.AuthCodeOption) attempt {
	a := attempt{state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(),
		verifier: oauth2.GenerateVerifier()}
	opts = append([]oauth2.AuthCodeOption{oidc.Nonce(a.nonce),
		oauth2.S256ChallengeOption(a.verifier)}, opts...)
	a.url = cfg.AuthCodeURL(a.state, opts...)
	return a
}

// code logs in as username and returns the code the redirect carries.
func (e *env) code(t *testing.T, a attempt, username string) string {
	t.Helper()
	loc, err := oidctest.Login(e.client, a.url, username, username)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	q := loc.Query()
	if q.Get("state") != a.state || q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("redirect %s: want code and state", redact(loc))
	}
	return q.Get("code")
}

// redact hides the code of a redirect URL in failure messages.
func redact(u *url.URL) string {
	c := *u
	q := c.Query()
	if q.Has("code") {
		q.Set("code", "REDACTED")
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// exchange redeems code with cfg and the given verifier.
func (e *env) exchange(cfg oauth2.Config, code, verifier string) (*oauth2.Token, error) {
	return cfg.Exchange(e.ctx, code, oauth2.VerifierOption(verifier))
}

// wantOAuthError checks that err is an RFC 6749 error with code and status.
func wantOAuthError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v: want a *oauth2.RetrieveError", err)
	}
	if re.ErrorCode != code || re.Response.StatusCode != status {
		t.Fatalf("got %q status %d, want %q status %d",
			re.ErrorCode, re.Response.StatusCode, code, status)
	}
}

// postForm sends a raw form to the token endpoint.
func (e *env) postForm(t *testing.T, form url.Values,
	edit func(*http.Request)) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.rp.Endpoint().TokenURL,
		strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return e.do(t, req)
}

// do sends req without following redirects and decodes a JSON body.
func (e *env) do(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	c := *e.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
	} else {
		m = map[string]any{"html": string(body)}
	}
	return resp, m
}

// get sends a GET without following redirects.
func (e *env) get(t *testing.T, target string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, req)
}

func urlEscape(s string) string { return url.QueryEscape(s) }
