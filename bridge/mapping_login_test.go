package bridge_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// C01 through a whole login: the overage refuses with a clear page, and neither the
// endpoint Entra would name nor an attacker's receives a request.
func TestC01OverageFetchesNothing(t *testing.T) {
	var hits atomic.Int32
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"value":["1f4b68ea-0000-4000-8000-000000000001"]}`)
	}))
	t.Cleanup(recorder.Close)

	for _, endpoint := range []string{
		recorder.URL + "/72f988bf/users/00000000/getMemberObjects", // where Entra points
		recorder.URL + "/x", // the attacker's host, named in the token
	} {
		e := newEnv(t, envOptions{idp: func(c *oidctest.Config) {
			c.EditIDToken = func(claims map[string]any) {
				delete(claims, "groups")
				claims["_claim_names"] = map[string]any{"groups": "src1"}
				claims["_claim_sources"] = map[string]any{
					"src1": map[string]any{"endpoint": endpoint}}
			}
			c.EditUserinfo = func(claims map[string]any) { delete(claims, "groups") }
		}})
		r := e.login(e.browser, e.bridge.URL+"/login", "alice")
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "groups overage") {
			t.Fatalf("%d at %s: %s", r.Status, r.URL, r.Body)
		}
		if len(e.qps.Sessions()) != 0 {
			t.Error("a session was opened without the user's groups")
		}
		if !strings.Contains(e.logs.String(), `"rule":"mapping.groups_claim (groups overage`) {
			t.Errorf("the log does not name the rule: %s", e.logs.String())
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the endpoint named in the token got %d requests", n)
	}
}

// C10 through a whole login: 400 groups of 40 characters are refused by the default
// budget; truncated, the session works at the proxy; with the budget at its largest, the
// proxy accepts the session but fails its first page, which is what the budget prevents.
func TestC10TooManyGroupsAtTheProxy(t *testing.T) {
	groups := make([]any, 400)
	for i := range groups {
		groups[i] = fmt.Sprintf("Team-%03d-%s", i, strings.Repeat("x", 31))
	}
	withGroups := func(c *oidctest.Config) {
		c.EditIDToken = func(claims map[string]any) { claims["groups"] = groups }
	}
	budget := func(b, over string) func(string) string {
		return func(s string) string {
			return strings.Replace(s, "  user_directory: TEST\n",
				"  user_directory: TEST\n  attributes_budget: "+b+"\n  over_budget: "+over+"\n", 1)
		}
	}
	for _, tc := range []struct {
		name   string
		config func(string) string
		status int
		says   string
	}{
		{"refused by the default budget", nil, http.StatusForbidden, "too many groups"},
		{"truncated to fit", budget("12288", "truncate"), http.StatusOK, "Logged in as"},
		{"a budget over the header limit", budget("65536", "refuse"), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{idp: withGroups, config: tc.config})
			r := e.login(e.browser, e.bridge.URL+"/login", "alice")
			if tc.status == 0 {
				if r.Status == http.StatusOK || len(e.qps.Sessions()) != 1 {
					t.Fatalf("the proxy served %d with %d sessions", r.Status,
						len(e.qps.Sessions()))
				}
				return
			}
			if r.Status != tc.status || !strings.Contains(r.Body, tc.says) {
				t.Fatalf("%d at %s: %s", r.Status, r.URL, r.Body)
			}
			if tc.status == http.StatusOK &&
				!strings.Contains(e.logs.String(), "attributes_budget: 21") {
				t.Errorf("the log does not say what was dropped: %s", e.logs.String())
			}
		})
	}
}

// C08 through a whole login: the page says why in plain words, the log names the rule.
func TestHostedDomainRefusalPage(t *testing.T) {
	e := newEnv(t, envOptions{config: func(s string) string {
		return strings.Replace(s, "access: {any_authenticated_user: true}",
			"access: {any_authenticated_user: true, hosted_domains: [example.com]}", 1)
	}})
	r := e.login(e.browser, e.bridge.URL+"/login", "alice")
	if r.Status != http.StatusForbidden ||
		!strings.Contains(r.Body, "does not belong to an organisation") {
		t.Fatalf("%d: %s", r.Status, r.Body)
	}
	if !strings.Contains(e.logs.String(), `"rule":"access.hosted_domains (hd)"`) {
		t.Errorf("log: %s", e.logs.String())
	}
}

// A claim path that finds nothing is logged with the path; an opaque access token adds
// no claims and no error when access_token_claims is on.
func TestMappingNotesAndOpaqueAccessToken(t *testing.T) {
	e := newEnv(t, envOptions{config: func(s string) string {
		s = strings.Replace(s, "  user_directory: TEST\n",
			"  user_directory: TEST\n  groups_claim: /resource_access/qlik.bridge/roles\n", 1)
		return strings.Replace(s, "  client_secret: bridge-secret\n",
			"  client_secret: bridge-secret\n  access_token_claims: true\n", 1)
	}})
	r := e.login(e.browser, e.bridge.URL+"/login", "alice")
	if r.Status != http.StatusOK {
		t.Fatalf("%d at %s: %s", r.Status, r.URL, r.Body)
	}
	if !strings.Contains(e.logs.String(),
		`claim path /resource_access/qlik.bridge/roles found nothing: no claim \"resource_access\"`) {
		t.Errorf("log: %s", e.logs.String())
	}
}
