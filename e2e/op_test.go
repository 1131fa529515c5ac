package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/e2e/internal/e2eutil"
)

const (
	clientID     = "qlik-bridge"
	clientSecret = "bridge-secret-for-tests"
	alicePass    = "alice-password"
)

var aliceGroups = []string{"Finance", "Qlik Users"}

// testOP starts the provider with client and the user alice.
func testOP(t *testing.T, client e2eutil.Client) *e2eutil.OP {
	return e2eutil.StartOIDCProvider(t, e2eutil.Options{
		Clients: []e2eutil.Client{client},
		Users: []e2eutil.User{{
			AccountID: "alice-0001",
			Username:  "alice",
			Password:  alicePass,
			Claims: map[string]any{
				"name":               "Alice Example",
				"preferred_username": "alice",
				"email":              "alice@example.com",
				"email_verified":     true,
				"groups":             aliceGroups,
			},
		}},
	})
}

// confidentialClient is the bridge's client registration, redirecting to redirectURI.
func confidentialClient(redirectURI string) e2eutil.Client {
	return e2eutil.Client{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}}
}

// relyingParty discovers op through its CA-trusting client and returns the OAuth
// configuration and the context to use with it.
func relyingParty(t *testing.T, op *e2eutil.OP, redirectURI string) (
	context.Context, *oidc.Provider, *oauth2.Config) {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), op.Client)
	provider, err := oidc.NewProvider(ctx, op.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return ctx, provider, &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  redirectURI,
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email", "groups"},
	}
}

// userClaims are the claims the provider releases for alice.
type userClaims struct {
	Sub           string   `json:"sub"`
	Name          string   `json:"name"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Groups        []string `json:"groups"`
}

func (c userClaims) check(t *testing.T, where string) {
	t.Helper()
	if c.Sub != "alice-0001" || c.Name != "Alice Example" || c.Email != "alice@example.com" ||
		!c.EmailVerified || !slices.Equal(c.Groups, aliceGroups) {
		t.Errorf("%s claims = %+v, want alice's", where, c)
	}
}

func randomString(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// exchange redeems code with verifier and verifies the ID token against nonce.
func exchange(t *testing.T, ctx context.Context, p *oidc.Provider, cfg *oauth2.Config,
	code, verifier, nonce string) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("token response has no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verifying the ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("ID token nonce differs from the request's")
	}
	return tok, idt
}

func TestOIDCProviderCodeFlowWithPKCE(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	const redirectURI = "http://127.0.0.1/callback" // never requested: LoginWithForm stops
	op := testOP(t, confidentialClient(redirectURI))
	ctx, provider, cfg := relyingParty(t, op, redirectURI)

	state, nonce, verifier := randomString(t), randomString(t), oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	cb, err := e2eutil.LoginWithForm(op.Client, authURL, "alice", alicePass)
	if err != nil {
		t.Fatal(err)
	}
	q := cb.Query()
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	if q.Get("state") != state || q.Get("iss") != op.Issuer || q.Get("code") == "" {
		t.Fatalf("callback has error=%q, state ok=%v, iss=%q, code present=%v",
			q.Get("error"), q.Get("state") == state, q.Get("iss"), q.Get("code") != "")
	}

	tok, idt := exchange(t, ctx, provider, cfg, q.Get("code"), verifier, nonce)
	var fromID userClaims
	if err := idt.Claims(&fromID); err != nil {
		t.Fatal(err)
	}
	fromID.check(t, "ID token")

	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var fromUI userClaims
	if err := ui.Claims(&fromUI); err != nil {
		t.Fatal(err)
	}
	fromUI.check(t, "userinfo")
}

func TestOIDCProviderRequiresPKCE(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	const redirectURI = "http://127.0.0.1/callback"
	op := testOP(t, confidentialClient(redirectURI))
	_, _, cfg := relyingParty(t, op, redirectURI)

	cb, err := e2eutil.LoginWithForm(op.Client, cfg.AuthCodeURL("s"), "alice", alicePass)
	if err != nil {
		t.Fatal(err)
	}
	if got := cb.Query().Get("error"); got != "invalid_request" {
		t.Errorf("error = %q, want invalid_request for a request without code_challenge", got)
	}
}

func TestLoginWithFormWrongPassword(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	const redirectURI = "http://127.0.0.1/callback"
	op := testOP(t, confidentialClient(redirectURI))
	_, _, cfg := relyingParty(t, op, redirectURI)

	authURL := cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	cb, err := e2eutil.LoginWithForm(op.Client, authURL, "alice", "wrong")
	if err == nil || !strings.Contains(err.Error(), "Invalid username or password") {
		t.Errorf("LoginWithForm = %v, %v; want the provider's refusal", cb, err)
	}
}

func TestOIDCProviderReleasesClaimsByScope(t *testing.T) {
	e2eutil.RequireE2E(t)
	t.Parallel()
	const redirectURI = "http://127.0.0.1/callback"
	op := e2eutil.StartOIDCProvider(t, e2eutil.Options{
		Clients: []e2eutil.Client{confidentialClient(redirectURI)},
		Users: []e2eutil.User{{
			Username: "bob",
			Password: "bob-password",
			Claims: map[string]any{
				"groups": []string{"Sales"},
				"roles":  []string{"Qlik.Admin"},
			},
		}},
		Scopes: map[string][]string{"roles": {"roles"}},
	})
	ctx, provider, cfg := relyingParty(t, op, redirectURI)
	cfg.Scopes = []string{oidc.ScopeOpenID, "roles"} // no groups scope

	nonce, verifier := randomString(t), oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	cb, err := e2eutil.LoginWithForm(op.Client, authURL, "bob", "bob-password")
	if err != nil {
		t.Fatal(err)
	}
	_, idt := exchange(t, ctx, provider, cfg, cb.Query().Get("code"), verifier, nonce)
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "bob" {
		t.Errorf("sub = %q, want the username when no account id is set", idt.Subject)
	}
	if _, ok := claims["groups"]; ok {
		t.Errorf("groups released without the groups scope: %v", claims["groups"])
	}
	if roles, _ := claims["roles"].([]any); len(roles) != 1 || roles[0] != "Qlik.Admin" {
		t.Errorf("roles = %v, want [Qlik.Admin]", claims["roles"])
	}
}
