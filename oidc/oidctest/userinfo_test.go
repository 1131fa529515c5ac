package oidctest_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// accessToken runs a login for username and returns the access token.
func (e *env) accessToken(t *testing.T, username string) string {
	t.Helper()
	a := start(e.basic)
	tok, err := e.exchange(e.basic, e.code(t, a, username), a.verifier)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func (e *env) userinfo(t *testing.T, method, auth string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.rp.UserInfoEndpoint(), nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.do(t, req)
}

func TestUserinfo(t *testing.T) {
	e := setup(t, nil)
	token := e.accessToken(t, "bob")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp, body := e.userinfo(t, method, "bearer "+token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", method, resp.StatusCode)
		}
		if body["sub"] == "" || body["email"] != "bob@example.com" || body["iss"] != nil {
			t.Errorf("%s: claims %v", method, body)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: userinfo may be cached", method)
		}
	}
}

func TestUserinfoRefusals(t *testing.T) {
	e := setup(t, nil)
	token := e.accessToken(t, "alice")
	for _, tc := range []struct {
		name, auth, challenge string
		before                func()
	}{
		{"no token", "", "Bearer", nil},
		{"unknown token", "Bearer made-up", `error="invalid_token"`, nil},
		{"Basic scheme", "Basic " + token, `error="invalid_token"`, nil},
		{"expired token", "Bearer " + token, `error="invalid_token"`,
			func() { e.clock.Add(time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			resp, _ := e.userinfo(t, http.MethodGet, tc.auth)
			got := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(got, tc.challenge) {
				t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, got)
			}
		})
	}
}

func TestEditUserinfo(t *testing.T) {
	var mu sync.Mutex
	var seen []any
	e := setup(t, func(c *oidctest.Config) {
		c.EditUserinfo = func(claims map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			groups := claims["groups"].([]any)
			seen = append(seen, groups[0])
			groups[0] = "Changed in place"
			claims["sub"] = "someone-else"
			delete(claims, "email")
		}
	})
	token := e.accessToken(t, "alice")
	for range 2 {
		_, body := e.userinfo(t, http.MethodGet, "Bearer "+token)
		if body["sub"] != "someone-else" || body["email"] != nil {
			t.Errorf("claims %v: the hook did not apply", body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "Sales" || seen[1] != "Sales" {
		t.Errorf("hook saw %v: each response must start from a fresh copy", seen)
	}
}
