package oidctest_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

func TestDiscovery(t *testing.T) {
	e := setup(t, nil)
	var meta map[string]any
	if err := e.rp.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                 e.srv.URL,
		"authorization_endpoint": e.srv.URL + "/authorize",
		"token_endpoint":         e.srv.URL + "/token",
		"userinfo_endpoint":      e.srv.URL + "/userinfo",
		"jwks_uri":               e.srv.URL + "/keys",
		"end_session_endpoint":   e.srv.URL + "/logout",
	}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("%s = %v, want %v", k, meta[k], v)
		}
	}
	lists := map[string][]string{
		"response_types_supported":              {"code"},
		"subject_types_supported":               {"public"},
		"id_token_signing_alg_values_supported": {"RS256"},
		"code_challenge_methods_supported":      {"S256"},
		"grant_types_supported":                 {"authorization_code"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
	}
	for k, v := range lists {
		if got := stringList(meta[k]); !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	for _, c := range []string{"sub", "groups", "email", "name"} {
		if !slices.Contains(stringList(meta["claims_supported"]), c) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
	if !slices.Contains(stringList(meta["scopes_supported"]), "openid") {
		t.Errorf("scopes_supported lacks openid")
	}
}

func stringList(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestKeysPublishTheSigningKey(t *testing.T) {
	e := setup(t, nil)
	resp, body := e.get(t, e.srv.URL+"/keys")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	keys, _ := body["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("keys = %v, want one", body["keys"])
	}
	k := keys[0].(map[string]any)
	for name, want := range map[string]string{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": e.p.KeyID(),
	} {
		if k[name] != want {
			t.Errorf("%s = %v, want %s", name, k[name], want)
		}
	}
	if _, ok := k["d"]; ok {
		t.Error("the key set leaks the private key")
	}
}

func TestCodeFlow(t *testing.T) {
	e := setup(t, nil)
	for _, tc := range []struct {
		name string
		cfg  oauth2.Config
	}{
		{"client_secret_basic", e.basic},
		{"client_secret_post", e.post},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := start(tc.cfg)
			loc, err := oidctest.Login(e.client, a.url, "alice", "alice")
			if err != nil {
				t.Fatal(err)
			}
			if loc.Query().Get("iss") != e.srv.URL {
				t.Errorf("redirect iss = %q, want the issuer", loc.Query().Get("iss"))
			}
			base := *loc
			base.RawQuery = ""
			if wantBase, _, _ := strings.Cut(tc.cfg.RedirectURL, "?"); base.String() != wantBase {
				t.Errorf("redirected to %s, want %s", base.String(), wantBase)
			}
			tok, err := e.exchange(tc.cfg, loc.Query().Get("code"), a.verifier)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			checkTokens(t, e, tc.cfg, tok, a.nonce)
		})
	}
}

// checkTokens verifies the ID token with go-oidc and calls userinfo.
func checkTokens(t *testing.T, e *env, cfg oauth2.Config, tok *oauth2.Token, nonce string) {
	t.Helper()
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.Expiry.IsZero() {
		t.Errorf("token type %q, expiry %v", tok.TokenType, tok.Expiry)
	}
	raw, _ := tok.Extra("id_token").(string)
	v := e.rp.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: e.clock.Now})
	idt, err := v.Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce = %q, want the request's", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Sub      string   `json:"sub"`
		Email    string   `json:"email"`
		Name     string   `json:"name"`
		Groups   []string `json:"groups"`
		AuthTime int64    `json:"auth_time"`
		Azp      *string  `json:"azp"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != "alice@example.com" || claims.Name == "" ||
		!slices.Equal(claims.Groups, []string{"Sales", "EMEA"}) {
		t.Errorf("claims = %+v", claims)
	}
	if claims.AuthTime != e.clock.Now().Unix() || claims.Azp != nil {
		t.Errorf("auth_time = %d, azp = %v", claims.AuthTime, claims.Azp)
	}
	if !idt.Expiry.Equal(e.clock.Now().Add(5 * time.Minute)) {
		t.Errorf("exp = %v, want five minutes from now", idt.Expiry)
	}

	ui, err := e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc struct {
		Groups []string `json:"groups"`
	}
	if err := ui.Claims(&uc); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject || ui.Email != "alice@example.com" ||
		!slices.Equal(uc.Groups, []string{"Sales", "EMEA"}) {
		t.Errorf("userinfo sub %q email %q groups %v", ui.Subject, ui.Email, uc.Groups)
	}
}

func TestRegisteredQueryIsKept(t *testing.T) {
	e := setup(t, nil)
	loc, err := oidctest.Login(e.client, start(e.post).url, "bob", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if loc.Query().Get("tenant") != "a" || loc.Query().Get("code") == "" {
		t.Errorf("redirect %s: want the registered query and a code", redact(loc))
	}
}

func TestInterleavedLogins(t *testing.T) {
	e := setup(t, nil)
	first, second := start(e.basic), start(e.basic)
	for _, a := range []attempt{second, first} {
		tok, err := e.exchange(e.basic, e.code(t, a, "alice"), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		checkTokens(t, e, e.basic, tok, a.nonce)
	}
}

func TestTokenResponseIsNotCached(t *testing.T) {
	e := setup(t, nil)
	a := start(e.basic)
	code := e.code(t, a, "bob")
	resp, body := e.postForm(t, map[string][]string{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {callback}, "code_verifier": {a.verifier},
	}, func(r *http.Request) { r.SetBasicAuth(basicID, urlEscape(basicSec)) })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %v", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) {
		t.Errorf("token_type %v, expires_in %v", body["token_type"], body["expires_in"])
	}
	if _, ok := body["refresh_token"]; ok {
		t.Error("unexpected refresh_token")
	}
}

func TestSubjectIsStableAndOpaque(t *testing.T) {
	subject := func() string {
		e := setup(t, nil)
		a := start(e.basic)
		tok, err := e.exchange(e.basic, e.code(t, a, "carol"), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		idt, err := e.rp.Verifier(&oidc.Config{ClientID: basicID, Now: e.clock.Now}).
			Verify(e.ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		idt.Claims(&c)
		if _, ok := c["groups"]; ok {
			t.Errorf("carol has a groups claim: %v", c["groups"])
		}
		return idt.Subject
	}
	first, second := subject(), subject()
	if first != second || first == "carol" || first == "" {
		t.Errorf("subjects %q and %q: want equal, opaque and not empty", first, second)
	}
}

func TestScopesReleaseStandardClaims(t *testing.T) {
	e := setup(t, nil)
	cfg := e.basic
	cfg.Scopes = []string{oidc.ScopeOpenID}
	a := start(cfg)
	tok, err := e.exchange(cfg, e.code(t, a, "alice"), a.verifier)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := e.rp.Verifier(&oidc.Config{ClientID: basicID, Now: e.clock.Now}).
		Verify(e.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	idt.Claims(&c)
	for _, name := range []string{"email", "email_verified", "name", "preferred_username"} {
		if _, ok := c[name]; ok {
			t.Errorf("claim %s released without its scope", name)
		}
	}
	if _, ok := c["groups"]; !ok {
		t.Error("groups is not tied to a scope and must be released")
	}
	if tok.Extra("scope") != "openid" {
		t.Errorf("scope = %v, want openid", tok.Extra("scope"))
	}
}

func TestIssuerWithPath(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	cfg := baseConfig(&clock{t: time.Unix(1700000000, 0)})
	cfg.Issuer = "https://" + srv.Listener.Addr().String() + "/realms/demo"
	p, err := oidctest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.StartTLS()
	t.Cleanup(srv.Close)

	ctx := oidc.ClientContext(t.Context(), srv.Client())
	rp, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Endpoint().TokenURL != cfg.Issuer+"/token" {
		t.Errorf("token endpoint %s, want it under the issuer path", rp.Endpoint().TokenURL)
	}
	oc := oauth2.Config{ClientID: basicID, ClientSecret: basicSec, Endpoint: rp.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID}}
	a := start(oc)
	loc, err := oidctest.Login(srv.Client(), a.url, "bob", "bob")
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("login: %v", err)
	}
	resp, err := srv.Client().Get(srv.URL + "/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("endpoint outside the issuer path: status %d, want 404", resp.StatusCode)
	}
}
