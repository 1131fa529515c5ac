package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// C07: groups missing from the ID token are taken from userinfo.
func TestGroupsFromUserinfo(t *testing.T) {
	e := newEnv(t, envOptions{idp: func(c *oidctest.Config) {
		c.EditIDToken = func(claims map[string]any) { delete(claims, "groups") }
	}})
	e.login(e.browser, e.bridge.URL+"/login", "alice")
	s := e.qps.Sessions()
	if len(s) != 1 || !sameAttrs(s[0].Attributes, []map[string]string{
		{"Group": "Sales"}, {"Group": "EMEA"}, {"email": "alice@example.com"}}) {
		t.Fatalf("sessions %+v", s)
	}
}

// C05: userinfo never erases an ID-token claim; a userinfo answer about another subject
// refuses the login.
func TestUserinfoCannotEraseOrSwapIdentity(t *testing.T) {
	t.Run("erase", func(t *testing.T) {
		e := newEnv(t, envOptions{idp: func(c *oidctest.Config) {
			c.EditIDToken = func(claims map[string]any) { delete(claims, "groups") }
			c.EditUserinfo = func(claims map[string]any) {
				for k := range claims {
					if k != "sub" {
						delete(claims, k)
					}
				}
			}
		}})
		r := e.login(e.browser, e.bridge.URL+"/login", "alice")
		s := e.qps.Sessions()
		if r.Status != http.StatusOK || len(s) != 1 || s[0].UserID != "alice" {
			t.Fatalf("%d, sessions %+v", r.Status, s)
		}
	})
	t.Run("other subject", func(t *testing.T) {
		e := newEnv(t, envOptions{idp: func(c *oidctest.Config) {
			c.EditIDToken = func(claims map[string]any) { delete(claims, "groups") }
			c.EditUserinfo = func(claims map[string]any) { claims["sub"] = "mallory" }
		}})
		r := e.login(e.browser, e.bridge.URL+"/login", "alice")
		if r.Status == http.StatusOK || len(e.qps.Sessions()) != 0 {
			t.Fatalf("logged in with another subject's userinfo: %d", r.Status)
		}
	})
}

// A user the access rules refuse gets a page that says so, and no redirect to the IdP.
func TestRefusedUserSeesWhy(t *testing.T) {
	e := newEnv(t, envOptions{config: func(s string) string {
		return strings.Replace(s, "access: {any_authenticated_user: true}",
			"access: {groups: [Finance]}", 1)
	}})
	r := e.login(e.browser, e.bridge.URL+"/login", "alice")
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "not in a group") {
		t.Fatalf("%d at %s: %s", r.Status, r.URL, r.Body)
	}
	if len(e.qps.Sessions()) != 0 {
		t.Error("a refused user got a session")
	}
	if !strings.Contains(e.logs.String(), `"rule":"access"`) {
		t.Error("the log does not say which rule refused")
	}
	if r := e.login(e.newBrowser(), e.bridge.URL+"/login", "bob"); r.Status != http.StatusOK {
		t.Errorf("bob, in Finance: %d", r.Status)
	}
}
