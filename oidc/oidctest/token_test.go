package oidctest_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestTokenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		status     int
		// redeem redeems a fresh code of the basic client and returns the
		// error to expect.
		redeem func(e *env, code, verifier string) error
	}{
		{"wrong verifier", "invalid_grant", 400, func(e *env, code, _ string) error {
			_, err := e.exchange(e.basic, code, oauth2.GenerateVerifier())
			return err
		}},
		{"missing verifier", "invalid_grant", 400, func(e *env, code, _ string) error {
			_, err := e.basic.Exchange(e.ctx, code)
			return err
		}},
		{"challenge as verifier", "invalid_grant", 400, func(e *env, code, v string) error {
			_, err := e.exchange(e.basic, code, oauth2.S256ChallengeFromVerifier(v))
			return err
		}},
		{"code reuse", "invalid_grant", 400, func(e *env, code, v string) error {
			if _, err := e.exchange(e.basic, code, v); err != nil {
				return err
			}
			_, err := e.exchange(e.basic, code, v)
			return err
		}},
		{"expired code", "invalid_grant", 400, func(e *env, code, v string) error {
			e.clock.Add(60 * time.Second)
			_, err := e.exchange(e.basic, code, v)
			return err
		}},
		{"unknown code", "invalid_grant", 400, func(e *env, _, v string) error {
			_, err := e.exchange(e.basic, "made-up", v)
			return err
		}},
		{"other redirect_uri", "invalid_grant", 400, func(e *env, code, v string) error {
			cfg := e.basic
			cfg.RedirectURL = "https://rp.example.com/elsewhere"
			_, err := e.exchange(cfg, code, v)
			return err
		}},
		{"no redirect_uri", "invalid_grant", 400, func(e *env, code, v string) error {
			cfg := e.basic
			cfg.RedirectURL = ""
			_, err := e.exchange(cfg, code, v)
			return err
		}},
		{"other client", "invalid_grant", 400, func(e *env, code, v string) error {
			cfg := e.post
			cfg.RedirectURL = callback
			_, err := e.exchange(cfg, code, v)
			return err
		}},
		{"wrong secret", "invalid_client", 401, func(e *env, code, v string) error {
			cfg := e.basic
			cfg.ClientSecret = "wrong"
			_, err := e.exchange(cfg, code, v)
			return err
		}},
		{"unknown client", "invalid_client", 401, func(e *env, code, v string) error {
			cfg := e.basic
			cfg.ClientID = "nobody"
			_, err := e.exchange(cfg, code, v)
			return err
		}},
		{"basic client posts its secret", "invalid_client", 400,
			func(e *env, code, v string) error {
				cfg := e.basic
				cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
				_, err := e.exchange(cfg, code, v)
				return err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, nil)
			a := start(e.basic)
			err := tc.redeem(e, e.code(t, a, "alice"), a.verifier)
			wantOAuthError(t, err, tc.code, tc.status)
		})
	}
}

func TestPostClientRefusesBasic(t *testing.T) {
	e := setup(t, nil)
	a := start(e.post)
	code := e.code(t, a, "bob")
	cfg := e.post
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	_, err := e.exchange(cfg, code, a.verifier)
	wantOAuthError(t, err, "invalid_client", 401)

	// The refused authentication did not use up the code.
	if _, err := e.exchange(e.post, code, a.verifier); err != nil {
		t.Fatalf("after a refused client: %v", err)
	}
}

func TestFailedRedemptionUsesUpTheCode(t *testing.T) {
	e := setup(t, nil)
	a := start(e.basic)
	code := e.code(t, a, "alice")
	_, err := e.exchange(e.basic, code, oauth2.GenerateVerifier())
	wantOAuthError(t, err, "invalid_grant", 400)
	_, err = e.exchange(e.basic, code, a.verifier)
	wantOAuthError(t, err, "invalid_grant", 400)
}

func TestCodeReuseRevokesTheAccessToken(t *testing.T) {
	e := setup(t, nil)
	a := start(e.basic)
	code := e.code(t, a, "alice")
	tok, err := e.exchange(e.basic, code, a.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo before reuse: %v", err)
	}
	_, err = e.exchange(e.basic, code, a.verifier)
	wantOAuthError(t, err, "invalid_grant", 400)
	if _, err := e.rp.UserInfo(e.ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Fatal("the access token still works after the code was used again")
	}
}

func TestCodeIsValidForJustUnderAMinute(t *testing.T) {
	e := setup(t, nil)
	a := start(e.basic)
	code := e.code(t, a, "alice")
	e.clock.Add(59 * time.Second)
	if _, err := e.exchange(e.basic, code, a.verifier); err != nil {
		t.Fatalf("after 59 s: %v", err)
	}
}

func TestTokenRequestShape(t *testing.T) {
	basic := func(r *http.Request) {
		r.SetBasicAuth(basicID, url.QueryEscape(basicSec))
	}
	for _, tc := range []struct {
		name, code string
		status     int
		form       url.Values
		edit       func(*http.Request)
	}{
		{"missing grant_type", "invalid_request", 400, url.Values{"code": {"x"}}, basic},
		{"refresh grant", "unsupported_grant_type", 400,
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, basic},
		{"password grant", "unsupported_grant_type", 400, url.Values{
			"grant_type": {"password"}, "username": {"alice"}, "password": {"alice"},
		}, basic},
		{"missing code", "invalid_request", 400,
			url.Values{"grant_type": {"authorization_code"}}, basic},
		{"repeated code", "invalid_request", 400,
			url.Values{"grant_type": {"authorization_code"}, "code": {"a", "b"}}, basic},
		{"two auth methods", "invalid_request", 400, url.Values{
			"grant_type": {"authorization_code"}, "code": {"x"},
			"client_id": {basicID}, "client_secret": {basicSec},
		}, basic},
		{"no client authentication", "invalid_client", 400, url.Values{
			"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {basicID},
		}, nil},
		{"Basic without form encoding", "invalid_client", 401,
			url.Values{"grant_type": {"authorization_code"}, "code": {"x"}},
			func(r *http.Request) { r.SetBasicAuth(basicID, basicSec) }},
		{"Bearer instead of Basic", "invalid_client", 401,
			url.Values{"grant_type": {"authorization_code"}, "code": {"x"}},
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }},
		{"JSON body", "invalid_request", 400, url.Values{},
			func(r *http.Request) { basic(r); r.Header.Set("Content-Type", "application/json") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, nil)
			resp, body := e.postForm(t, tc.form, tc.edit)
			if resp.StatusCode != tc.status || body["error"] != tc.code {
				t.Fatalf("status %d error %v, want %d %s",
					resp.StatusCode, body["error"], tc.status, tc.code)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Error("error response may be cached")
			}
			auth := resp.Header.Get("WWW-Authenticate")
			if (resp.StatusCode == 401) != (auth != "") {
				t.Errorf("status %d with WWW-Authenticate %q", resp.StatusCode, auth)
			}
		})
	}
}

func TestTokenEndpointRefusesGet(t *testing.T) {
	e := setup(t, nil)
	resp, _ := e.get(t, e.rp.Endpoint().TokenURL+"?grant_type=authorization_code")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
