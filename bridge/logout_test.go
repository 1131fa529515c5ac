package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// logoutAt opens /logout and returns where the bridge sends the browser.
func (e *env) logoutAt(c *http.Client) (*http.Response, *url.URL) {
	e.t.Helper()
	resp, err := c.Get(e.bridge.URL + "/logout")
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp, loc
}

func TestLogout(t *testing.T) {
	for _, tc := range []struct {
		name, mode, scope string
		browsers          int // logins of alice, each in its own browser
		left              int // sessions left after the first browser logs out
	}{
		{"session mode ends this browser's session", "session", "browser", 2, 1},
		{"ticket mode ends the session the bridge can see", "ticket", "browser", 2, 1},
		{"scope user ends every device's session", "ticket", "user", 2, 0},
		{"scope user in session mode", "session", "user", 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{mode: tc.mode, config: func(s string) string {
				return strings.Replace(s, "mode: "+tc.mode, "mode: "+tc.mode+
					"\n      logout_scope: "+tc.scope, 1)
			}})
			browsers := []*http.Client{e.browser}
			for i := 1; i < tc.browsers; i++ {
				browsers = append(browsers, e.newBrowser())
			}
			for _, b := range browsers {
				if r := e.login(b, e.qlik("/bi/hub/"), "alice"); r.Status != http.StatusOK {
					t.Fatalf("login: %d", r.Status)
				}
			}
			resp, loc := e.logoutAt(e.browser)
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), e.idpSrv.URL) {
				t.Fatalf("logout: %d to %s, want the provider's end_session_endpoint",
					resp.StatusCode, loc)
			}
			if loc.Query().Get("id_token_hint") == "" || loc.Query().Get("client_id") != "bridge" {
				t.Errorf("end-session request lacks id_token_hint or client_id: %s", loc.RawQuery)
			}
			if n := len(e.qps.Sessions()); n != tc.left {
				t.Errorf("%d sessions left, want %d", n, tc.left)
			}
			// The browser is logged out of Qlik: its next visit goes to the bridge again.
			if r := e.visit(e.browser, e.qlik("/bi/hub/")); !strings.HasPrefix(r.URL, e.idpSrv.URL) {
				t.Errorf("after logout Qlik still served %s (%d)", r.URL, r.Status)
			}
		})
	}
}

// The hub's logout ends the proxy session itself; a browser sent on to /logout without any
// Qlik session still reaches the provider's logout.
func TestLogoutWithoutQlikSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, loc := e.logoutAt(e.browser)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), e.idpSrv.URL) {
		t.Fatalf("%d to %s", resp.StatusCode, loc)
	}
}

func TestLogoutKeepingIdPSession(t *testing.T) {
	e := newEnv(t, envOptions{config: func(s string) string {
		return s + "logout: {keep_idp_session: true}\n"
	}})
	e.login(e.browser, e.bridge.URL+"/login", "alice")
	r := e.visit(e.browser, e.bridge.URL+"/logout")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "signed out") {
		t.Fatalf("%d: %s", r.Status, r.Body)
	}
	if n := len(e.qps.Sessions()); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

// Back-channel logout: a valid logout token ends the user's Qlik sessions; anything else is
// refused with 400 and ends nothing.
func TestBackchannelLogout(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session"})
	e.login(e.browser, e.bridge.URL+"/login", "alice")
	e.login(e.newBrowser(), e.bridge.URL+"/login", "bob")
	now := time.Now().Unix()
	token := func(edit func(map[string]any)) string {
		c := map[string]any{"iss": e.idpSrv.URL, "aud": "bridge", "iat": now,
			"jti": t.Name() + url.QueryEscape(time.Now().String()),
			"sub": "sub-alice", "events": map[string]any{
				"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
		if edit != nil {
			edit(c)
		}
		raw, err := e.idp.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	post := func(raw string) int {
		resp, err := http.PostForm(e.bridge.URL+"/backchannel-logout", url.Values{"logout_token": {raw}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, raw := range map[string]string{
		"nonce":        token(func(c map[string]any) { c["nonce"] = "n" }),
		"other issuer": token(func(c map[string]any) { c["iss"] = "https://evil.example" }),
		"no event":     token(func(c map[string]any) { delete(c, "events") }),
		"garbage":      "x.y.z",
	} {
		if code := post(raw); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	if n := len(e.qps.Sessions()); n != 2 {
		t.Fatalf("refused tokens ended sessions: %d left", n)
	}
	if code := post(token(nil)); code != http.StatusOK {
		t.Fatalf("valid token: %d", code)
	}
	s := e.qps.Sessions()
	if len(s) != 1 || s[0].UserID != "bob" {
		t.Errorf("sessions %+v, want only bob's", s)
	}
}

// A logout link on another site does not end anything by itself: the bridge asks the user,
// and the confirmation posts from the bridge's own page.
func TestCrossSiteLogoutAsksFirst(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.login(e.browser, e.bridge.URL+"/login", "alice")
	for _, site := range []string{"cross-site", "none-given"} {
		req, _ := http.NewRequest("GET", e.bridge.URL+"/logout", nil)
		if site != "none-given" {
			req.Header.Set("Sec-Fetch-Site", site)
		} else {
			req.Header.Set("Sec-Fetch-Site", "bogus")
		}
		resp, err := e.browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(e.qps.Sessions()) != 1 {
			t.Fatalf("%s GET /logout: %d, %d sessions", site, resp.StatusCode, len(e.qps.Sessions()))
		}
	}
	req, _ := http.NewRequest("POST", e.bridge.URL+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := e.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || len(e.qps.Sessions()) != 0 {
		t.Fatalf("confirmed logout: %d, %d sessions", resp.StatusCode, len(e.qps.Sessions()))
	}
}
