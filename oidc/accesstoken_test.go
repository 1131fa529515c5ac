package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

func TestAccessTokenClaims(t *testing.T) {
	testKeys(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := testNow.Unix()
	for _, tc := range []struct {
		name   string
		claims func(map[string]any)
		token  func(t *testing.T, c map[string]any) string // nil: RS256 with rsa1
		config func(*Config)
		reason string // "" = accepted
	}{
		{name: "Keycloak: azp is the client, aud another"},
		{name: "RFC 9068 client_id", claims: func(c map[string]any) {
			delete(c, "azp")
			c["client_id"] = testClientID
		}},
		{name: "the client among the audiences", claims: func(c map[string]any) {
			delete(c, "azp")
			c["aud"] = []string{"api", testClientID}
		}},
		{name: "issued to another client", claims: set("azp", "other"), reason: "access_token_client_mismatch"},
		{name: "names no client", claims: drop("azp"), reason: "access_token_client_mismatch"},
		{name: "about another user", claims: set("sub", "mallory"), reason: "access_token_sub_mismatch"},
		{name: "without sub", claims: drop("sub")},
		{name: "C13 expired 10 s ago, within the default leeway", claims: set("exp", now-10)},
		{name: "expired beyond the leeway", claims: set("exp", now-10), reason: "expired",
			config: func(c *Config) { c.Leeway = 5 * time.Second }},
		{name: "no exp", claims: drop("exp"), reason: "exp_missing"},
		{name: "another issuer", claims: set("iss", "https://idp.example.net"),
			reason: "access_token_invalid"},
		{name: "another key", token: signedWith(jose.RS256, otherKey, "rsa1"),
			reason: "access_token_invalid"},
		{name: "HS256 with the client secret, even when allowed for ID tokens",
			token:  signedWith(jose.HS256, []byte(testSecret), ""),
			config: withAlgs("RS256", "HS256"), reason: "access_token_invalid"},
		{name: "alg none", token: func(t *testing.T, c map[string]any) string { return unsigned(t, c) },
			reason: "access_token_invalid"},
		{name: "no asymmetric algorithm allowed", config: withAlgs("HS256"),
			reason: "access_token_alg_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newFakeIdP(t)
			rp := idp.newRP(t, tc.config)
			claims := map[string]any{"iss": idp.srv.URL, "sub": "alice", "aud": "account",
				"azp": testClientID, "exp": now + 300, "iat": now, "typ": "Bearer",
				"realm_access": map[string]any{"roles": []string{"analyst"}}}
			if tc.claims != nil {
				tc.claims(claims)
			}
			raw := ""
			if tc.token != nil {
				raw = tc.token(t, claims)
			} else {
				raw = sign(t, jose.RS256, rsaKey, "rsa1", claims)
			}
			login := &Login{Subject: "alice", Token: &oauth2.Token{AccessToken: raw}}
			got, err := rp.AccessTokenClaims(context.Background(), login)
			if tc.reason == "" {
				if err != nil || got["realm_access"] == nil {
					t.Fatalf("AccessTokenClaims = %v, %v", got, err)
				}
				return
			}
			var e *Error
			if !errors.Is(err, ErrVerify) || !errors.As(err, &e) || e.Reason != tc.reason {
				t.Fatalf("err = %v, want reason %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), raw) {
				t.Error("the token leaked into the error")
			}
		})
	}
}

// An access token that is not a JWT is meant for the provider alone: no claims, no error.
func TestOpaqueAccessToken(t *testing.T) {
	rp := newFakeIdP(t).newRP(t, nil)
	got, err := rp.AccessTokenClaims(context.Background(),
		&Login{Subject: "alice", Token: &oauth2.Token{AccessToken: "2YotnFZFEjr1zCsicMWpAA"}})
	if got != nil || err != nil {
		t.Fatalf("AccessTokenClaims = %v, %v", got, err)
	}
	if _, err := rp.AccessTokenClaims(context.Background(), &Login{}); !errors.Is(err, ErrVerify) {
		t.Fatalf("a login without a token: %v", err)
	}
}
