package oidctest_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// rawJWT builds a compact token with the given header and signs it with
// sign, which gets the signing input.
func rawJWT(header, claims map[string]any, sign func([]byte) []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

// idTokenWith runs a login against a provider configured by edit and
// returns the ID token's verification result and the request's nonce.
func idTokenWith(t *testing.T, edit func(*oidctest.Config)) (*oidc.IDToken, string, error) {
	t.Helper()
	e := setup(t, edit)
	a := start(e.basic)
	tok, err := e.exchange(e.basic, e.code(t, a, "alice"), a.verifier)
	if err != nil {
		return nil, a.nonce, err
	}
	v := e.rp.Verifier(&oidc.Config{ClientID: basicID, Now: e.clock.Now})
	idt, err := v.Verify(e.ctx, tok.Extra("id_token").(string))
	return idt, a.nonce, err
}

func TestEditIDTokenMakesBadTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
	}{
		{"wrong audience", func(c map[string]any) { c["aud"] = "someone-else" }},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{"expired", func(c map[string]any) {
			c["exp"] = time.Unix(1700000000, 0).Add(-time.Hour).Unix()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := idTokenWith(t, func(c *oidctest.Config) { c.EditIDToken = tc.edit })
			if err == nil {
				t.Fatal("go-oidc accepted the edited token")
			}
		})
	}
}

func TestEditIDTokenSeesTheStandardClaims(t *testing.T) {
	var got map[string]any
	idt, nonce, err := idTokenWith(t, func(c *oidctest.Config) {
		c.EditIDToken = func(claims map[string]any) {
			got = maps(claims)
			claims["nonce"] = "another nonce"
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"} {
		if _, ok := got[name]; !ok {
			t.Errorf("hook did not see %s", name)
		}
	}
	if got["nonce"] != nonce || idt.Nonce != "another nonce" {
		t.Errorf("nonce: hook saw %v, token has %q", got["nonce"], idt.Nonce)
	}
}

func maps(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestSignIDTokenReplacesSigning(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(&clock{}) // the same key as the servers below
	cfg.Issuer = "https://signer.example"
	p, err := oidctest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	signWith := func(alg string, sign func([]byte) []byte) func(map[string]any) (string, error) {
		return func(c map[string]any) (string, error) {
			hdr := map[string]any{"alg": alg, "typ": "JWT", "kid": p.KeyID()}
			return rawJWT(hdr, c, sign), nil
		}
	}
	for _, tc := range []struct {
		name string
		sign func(map[string]any) (string, error)
	}{
		{"alg none", signWith("none", func([]byte) []byte { return nil })},
		{"HS256 with the client secret", signWith("HS256", func(in []byte) []byte {
			m := hmac.New(sha256.New, []byte(basicSec))
			m.Write(in)
			return m.Sum(nil)
		})},
		{"other key, same kid", signWith("RS256", func(in []byte) []byte {
			sum := sha256.Sum256(in)
			sig, _ := rsa.SignPKCS1v15(nil, otherKey, crypto.SHA256, sum[:])
			return sig
		})},
		{"provider's key (control)", p.Sign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := idTokenWith(t, func(c *oidctest.Config) { c.SignIDToken = tc.sign })
			if control := tc.name == "provider's key (control)"; (err == nil) != control {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

func TestSignIDTokenError(t *testing.T) {
	_, _, err := idTokenWith(t, func(c *oidctest.Config) {
		c.SignIDToken = func(map[string]any) (string, error) { return "", errors.New("boom") }
	})
	wantOAuthError(t, err, "server_error", 500)
}
