package bridge_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// Bad input at the callback: each gets its own clear page, never a 500, never a redirect
// back to the identity provider, and no Qlik session.
func TestCallbackBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		idp    func(*oidctest.Config)
		call   func(e *env) result // returns where the browser ended
		status int
		says   string
	}{
		{name: "missing state", status: http.StatusBadRequest, says: "not valid",
			call: func(e *env) result { return e.visit(e.browser, e.bridge.URL+"/callback?code=x") }},
		{name: "unknown state", status: http.StatusBadRequest, says: "not valid",
			call: func(e *env) result {
				forged := strings.Repeat("A", 44)
				return e.visit(e.browser, e.bridge.URL+"/callback?code=x&state="+forged)
			}},
		{name: "state from another login", status: http.StatusBadRequest, says: "expired",
			call: func(e *env) result {
				cb := e.authorize(e.browser, e.bridge.URL+"/login", "alice")
				return e.visit(e.newBrowser(), cb) // the other browser has no flow cookie
			}},
		{name: "replayed callback", status: http.StatusBadRequest, says: "expired",
			call: func(e *env) result {
				cb := e.authorize(e.browser, e.bridge.URL+"/login", "alice")
				if r := e.visit(e.browser, cb); r.Status != http.StatusOK {
					e.t.Fatalf("first callback: %d", r.Status)
				}
				e.qpsBaseline = len(e.qps.Sessions())
				return e.visit(e.browser, cb)
			}},
		{name: "access denied at the IdP", status: http.StatusForbidden, says: "denied",
			call: func(e *env) result {
				r := e.visit(e.browser, e.bridge.URL+"/login")
				back, err := oidctest.Deny(e.browser, r.URL)
				if err != nil {
					e.t.Fatal(err)
				}
				return e.visit(e.browser, back.String())
			}},
		{name: "code the IdP rejects", status: http.StatusBadGateway, says: "did not accept the login code",
			call: func(e *env) result {
				cb := e.authorize(e.browser, e.bridge.URL+"/login", "alice")
				u, _ := url.Parse(cb)
				q := u.Query()
				q.Set("code", "forged-"+q.Get("code"))
				u.RawQuery = q.Encode()
				return e.visit(e.browser, u.String())
			}},
		{name: "iss of another provider (RFC 9207)", status: http.StatusBadRequest,
			says: "did not come from your identity provider",
			call: func(e *env) result { return e.visit(e.browser, withParam(e, "iss", "https://evil.example")) }},
		{name: "iss missing though announced (RFC 9207)", status: http.StatusBadRequest,
			says: "did not come from your identity provider",
			call: func(e *env) result { return e.visit(e.browser, withParam(e, "iss", "")) }},
		{name: "wrong nonce", status: http.StatusBadGateway, says: "could not be verified",
			idp: editToken(func(c map[string]any) { c["nonce"] = "N2" })},
		{name: "no nonce", status: http.StatusBadGateway, says: "could not be verified",
			idp: editToken(func(c map[string]any) { delete(c, "nonce") })},
		{name: "wrong audience", status: http.StatusBadGateway, says: "could not be verified",
			idp: editToken(func(c map[string]any) { c["aud"] = "someone-else" })},
		{name: "extra audience not configured", status: http.StatusBadGateway, says: "could not be verified",
			idp: editToken(func(c map[string]any) { c["aud"] = []any{"bridge", "someone-else"} })},
		{name: "wrong issuer", status: http.StatusBadGateway, says: "could not be verified",
			idp: editToken(func(c map[string]any) { c["iss"] = "https://evil.example" })},
		{name: "unsigned token", status: http.StatusBadGateway, says: "could not be verified",
			idp: func(c *oidctest.Config) { c.SignIDToken = unsigned }},
		{name: "HS256 with the client secret", status: http.StatusBadGateway, says: "could not be verified",
			idp: func(c *oidctest.Config) { c.SignIDToken = hs256("bridge-secret") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{idp: tc.idp})
			call := tc.call
			if call == nil {
				call = func(e *env) result { return e.login(e.browser, e.bridge.URL+"/login", "alice") }
			}
			r := call(e)
			if r.Status != tc.status {
				t.Errorf("status %d, want %d; at %s; body %s", r.Status, tc.status, r.URL, r.Body)
			}
			if !strings.Contains(r.Body, tc.says) || !strings.Contains(r.Body, `id="title"`) {
				t.Errorf("page does not say %q: %s", tc.says, r.Body)
			}
			if strings.HasPrefix(r.URL, e.idpSrv.URL) {
				t.Errorf("sent back to the identity provider: %s", r.URL)
			}
			if n := len(e.qps.Sessions()); n != e.qpsBaseline {
				t.Errorf("the simulator holds %d sessions, want %d", n, e.qpsBaseline)
			}
		})
	}
}

// withParam logs in at the provider and returns the callback URL with param set to value,
// or removed when value is "".
func withParam(e *env, param, value string) string {
	cb := e.authorize(e.browser, e.bridge.URL+"/login", "alice")
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Del(param)
	if value != "" {
		q.Set(param, value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func editToken(f func(map[string]any)) func(*oidctest.Config) {
	return func(c *oidctest.Config) { c.EditIDToken = f }
}

func unsigned(claims map[string]any) (string, error) {
	return jwt(map[string]any{"alg": "none", "typ": "JWT"}, claims, nil), nil
}

func hs256(secret string) func(map[string]any) (string, error) {
	return func(claims map[string]any) (string, error) {
		return jwt(map[string]any{"alg": "HS256", "typ": "JWT"}, claims, []byte(secret)), nil
	}
}

func jwt(header, claims map[string]any, hmacKey []byte) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	s := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	if hmacKey == nil {
		return s + "."
	}
	m := hmac.New(sha256.New, hmacKey)
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

// C16: a callback without its flow cookie offers a fresh login to the original target.
func TestLostFlowCookieOffersFreshLoginToTarget(t *testing.T) {
	e := newEnv(t, envOptions{})
	target := e.qlik("/bi/sense/app/abc?sheet=2")
	cb := e.authorize(e.browser, e.bridge.URL+"/login?target="+url.QueryEscape(target), "alice")
	other := e.newBrowser()
	r := e.visit(other, cb)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("status %d", r.Status)
	}
	want := e.bridge.URL + "/login?target=" + url.QueryEscape(target)
	if !strings.Contains(r.Body, `href="`+htmlEscape(want)+`"`) {
		t.Fatalf("no link to %s in %s", want, r.Body)
	}
	// Following it logs in to the original page.
	if r2 := e.login(other, want, "alice"); r2.URL != target || r2.Status != http.StatusOK {
		t.Fatalf("fresh login ended at %s (%d)", r2.URL, r2.Status)
	}
}

func htmlEscape(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// A browser that starts many logins without finishing them keeps at most five flow cookies,
// and the newest logins still finish.
func TestAbandonedLoginsDoNotPileUpCookies(t *testing.T) {
	e := newEnv(t, envOptions{})
	var callbacks []string
	for i := 0; i < 12; i++ {
		callbacks = append(callbacks, e.authorize(e.browser, e.bridge.URL+"/login", "alice"))
	}
	u, _ := url.Parse(e.bridge.URL + "/callback")
	n := 0
	for _, c := range e.browser.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "qob_flow_") {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d flow cookies, want 5", n)
	}
	if r := e.visit(e.browser, callbacks[len(callbacks)-1]); r.Status != http.StatusOK {
		t.Errorf("the newest login: %d", r.Status)
	}
	if r := e.visit(e.browser, callbacks[0]); r.Status != http.StatusBadRequest {
		t.Errorf("the oldest, pruned login: %d", r.Status)
	}
}
