package oidctest_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// authURL returns a valid authorization request for the basic client with
// edit applied to its parameters.
func (e *env) authURL(edit func(url.Values)) string {
	q := url.Values{
		"client_id":             {basicID},
		"redirect_uri":          {callback},
		"response_type":         {"code"},
		"scope":                 {"openid email"},
		"state":                 {"st-1"},
		"nonce":                 {"n-1"},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
	}
	if edit != nil {
		edit(q)
	}
	return e.rp.Endpoint().AuthURL + "?" + q.Encode()
}

func TestAuthorizeShowsErrorPageWithoutTrustedRedirect(t *testing.T) {
	e := setup(t, nil)
	for _, tc := range []struct {
		name string
		edit func(url.Values)
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }},
		{"missing client", func(q url.Values) { q.Del("client_id") }},
		{"repeated client", func(q url.Values) { q.Add("client_id", basicID) }},
		{"missing redirect_uri", func(q url.Values) { q.Del("redirect_uri") }},
		{"repeated redirect_uri", func(q url.Values) { q.Add("redirect_uri", callback) }},
		{"other host", func(q url.Values) {
			q.Set("redirect_uri", "https://evil.example/callback")
		}},
		{"trailing slash", func(q url.Values) { q.Set("redirect_uri", callback+"/") }},
		{"added query", func(q url.Values) { q.Set("redirect_uri", callback+"?x=1") }},
		{"upper-case host", func(q url.Values) {
			q.Set("redirect_uri", "https://RP.example.com/callback")
		}},
		{"other client's uri", func(q url.Values) {
			q.Set("redirect_uri", "https://rp.example.com/other?tenant=a")
		}},
		{"unknown client and bad request", func(q url.Values) {
			q.Set("client_id", "nobody")
			q.Del("code_challenge")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.get(t, e.authURL(tc.edit))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d, Location %q: want 400 and no redirect",
					resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body["html"].(string), `id="error"`) {
				t.Errorf("page has no error message")
			}
		})
	}
}

func TestAuthorizeRedirectsErrors(t *testing.T) {
	e := setup(t, nil)
	for _, tc := range []struct {
		name, code string
		edit       func(url.Values)
	}{
		{"missing PKCE", "invalid_request", func(q url.Values) {
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}},
		{"plain PKCE", "invalid_request", func(q url.Values) {
			q.Set("code_challenge_method", "plain")
		}},
		{"PKCE without method", "invalid_request", func(q url.Values) {
			q.Del("code_challenge_method")
		}},
		{"malformed challenge", "invalid_request", func(q url.Values) {
			q.Set("code_challenge", "short")
		}},
		{"missing response_type", "invalid_request", func(q url.Values) {
			q.Del("response_type")
		}},
		{"implicit flow", "unsupported_response_type", func(q url.Values) {
			q.Set("response_type", "id_token token")
		}},
		{"hybrid flow", "unsupported_response_type", func(q url.Values) {
			q.Set("response_type", "code id_token")
		}},
		{"no openid scope", "invalid_scope", func(q url.Values) { q.Set("scope", "email") }},
		{"prompt none", "login_required", func(q url.Values) { q.Set("prompt", "none") }},
		{"form_post", "invalid_request", func(q url.Values) {
			q.Set("response_mode", "form_post")
		}},
		{"request object", "request_not_supported", func(q url.Values) {
			q.Set("request", "eyJhbGciOiJub25lIn0.e30.")
		}},
		{"repeated scope", "invalid_request", func(q url.Values) { q.Add("scope", "openid") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := e.get(t, e.authURL(tc.edit))
			loc, err := resp.Location()
			if resp.StatusCode != http.StatusFound || err != nil {
				t.Fatalf("status %d: want a redirect", resp.StatusCode)
			}
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), callback+"?") || q.Get("error") != tc.code ||
				q.Get("state") != "st-1" || q.Get("iss") != e.srv.URL || q.Has("code") {
				t.Errorf("redirect %s: want %s with state and iss", loc, tc.code)
			}
		})
	}
}

func TestAuthorizeByPost(t *testing.T) {
	e := setup(t, nil)
	u, _ := url.Parse(e.authURL(nil))
	req, _ := http.NewRequest(http.MethodPost, e.rp.Endpoint().AuthURL,
		strings.NewReader(u.RawQuery))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := e.do(t, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body["html"].(string), `id="login"`) {
		t.Fatalf("status %d: want the login form", resp.StatusCode)
	}
}

var handleRE = regexp.MustCompile(`name="request" value="([^"]*)"`)

// openForm opens an authorization request and returns the form's handle.
func (e *env) openForm(t *testing.T, authURL string) string {
	t.Helper()
	resp, body := e.get(t, authURL)
	html := body["html"].(string)
	m := handleRE.FindStringSubmatch(html)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("status %d: no login form", resp.StatusCode)
	}
	return m[1]
}

// postLogin posts the login form.
func (e *env) postLogin(t *testing.T, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login",
		strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := e.do(t, req)
	html, _ := body["html"].(string)
	return resp, html
}

func TestLoginFormCarriesAnOpaqueHandle(t *testing.T) {
	e := setup(t, nil)
	resp, body := e.get(t, e.authURL(nil))
	html := body["html"].(string)
	for _, want := range []string{`name="username"`, `name="password"`, `type="password"`,
		`id="login"`, `id="deny"`, `method="post"`} {
		if !strings.Contains(html, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(html, "<script") {
		t.Error("the form must work without JavaScript")
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Error("the form may be framed")
	}
	// Browser drivers that search the page text (chromedp's default) must
	// find only the elements, not a style rule naming them.
	for _, sel := range []string{"#login", "#deny", "#error", "#username", "#password"} {
		if strings.Contains(html, sel) {
			t.Errorf("page text contains %s", sel)
		}
	}
	handle := handleRE.FindStringSubmatch(html)[1]
	for _, leaked := range []string{"st-1", "n-1", "E9Melhoa", callback, basicID} {
		if strings.Contains(handle, leaked) || strings.Contains(handle, url.QueryEscape(leaked)) {
			t.Errorf("handle carries %q", leaked)
		}
	}
	if len(handle) < 43 {
		t.Errorf("handle of %d characters is too short to be unguessable", len(handle))
	}
	if e.openForm(t, e.authURL(nil)) == handle {
		t.Error("two requests got the same handle")
	}
}

func TestWrongPasswordShowsTheFormAgain(t *testing.T) {
	e := setup(t, nil)
	_, err := oidctest.Login(e.client, e.authURL(nil), "alice", "bob")
	if !errors.Is(err, oidctest.ErrLoginFailed) {
		t.Fatalf("Login: %v, want ErrLoginFailed", err)
	}
	_, err = oidctest.Login(e.client, e.authURL(nil), "mallory", "mallory")
	if !errors.Is(err, oidctest.ErrLoginFailed) {
		t.Fatalf("unknown user: %v, want ErrLoginFailed", err)
	}

	handle := e.openForm(t, e.authURL(nil))
	form := url.Values{"request": {handle}, "username": {"alice"}, "password": {"wrong"},
		"action": {"login"}}
	resp, html := e.postLogin(t, form)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Fatalf("status %d: want the form again, no redirect", resp.StatusCode)
	}
	if !strings.Contains(html, `id="error"`) || !strings.Contains(html, handle) {
		t.Error("the form is not shown again with a message")
	}

	// The same request can still succeed.
	form.Set("password", "alice")
	resp, _ = e.postLogin(t, form)
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("status %d: want a redirect with a code", resp.StatusCode)
	}
}

func TestTooManyWrongPasswordsDropTheRequest(t *testing.T) {
	e := setup(t, nil)
	handle := e.openForm(t, e.authURL(nil))
	form := url.Values{"request": {handle}, "username": {"alice"}, "password": {"wrong"}}
	for i := range 10 {
		resp, _ := e.postLogin(t, form)
		if i < 9 && resp.StatusCode != http.StatusOK {
			t.Fatalf("wrong password %d: status %d, want the form again", i+1, resp.StatusCode)
		}
	}
	form.Set("password", "alice")
	resp, _ := e.postLogin(t, form)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("status %d: want 400 after ten wrong passwords", resp.StatusCode)
	}
}

func TestAccessDenied(t *testing.T) {
	e := setup(t, nil)
	loc, err := oidctest.Deny(e.client, e.authURL(nil))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "st-1" || q.Has("code") {
		t.Errorf("redirect %s: want access_denied with state", loc)
	}
}

func TestLoginRequestIsSingleUseAndExpires(t *testing.T) {
	e := setup(t, nil)
	login := func(handle string) *http.Response {
		resp, _ := e.postLogin(t, url.Values{"request": {handle},
			"username": {"bob"}, "password": {"bob"}, "action": {"login"}})
		return resp
	}
	for _, tc := range []struct {
		name   string
		handle func() string
	}{
		{"unknown handle", func() string { return "made-up" }},
		{"missing handle", func() string { return "" }},
		{"used handle", func() string {
			h := e.openForm(t, e.authURL(nil))
			if resp := login(h); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("first use: status %d", resp.StatusCode)
			}
			return h
		}},
		{"expired handle", func() string {
			h := e.openForm(t, e.authURL(nil))
			e.clock.Add(10 * time.Minute)
			return h
		}},
		{"denied handle", func() string {
			h := e.openForm(t, e.authURL(nil))
			e.postLogin(t, url.Values{"request": {h}, "action": {"deny"}})
			return h
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := login(tc.handle())
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("status %d: want 400 and no redirect", resp.StatusCode)
			}
		})
	}
}

func TestLoginHintPrefillsTheUsername(t *testing.T) {
	e := setup(t, nil)
	_, body := e.get(t, e.authURL(func(q url.Values) { q.Set("login_hint", `bob"<`) }))
	if !strings.Contains(body["html"].(string), `value="bob&#34;&lt;"`) {
		t.Error("login_hint is not in the username field, escaped")
	}
}
