package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// In session mode every node of the virtual proxy gets the session, so either node
// recognises the cookie.
func TestSessionOnEveryNode(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session", nodes: 2})
	target := e.qlik("/bi/sense/app/abc?sheet=1")
	r := e.login(e.browser, e.bridge.URL+"/login?target="+url.QueryEscape(target), "alice")
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d", r.Status)
	}
	second := e.nodes[1]
	if n := len(second.Sessions()); n != 1 {
		t.Fatalf("the second node holds %d sessions, want 1", n)
	}
	// The browser sends the same cookie to the second node (cookies ignore ports).
	r2 := e.visit(e.browser, second.BrowserURL()+"/bi/sense/app/abc?sheet=1")
	if r2.Status != http.StatusOK || loggedInAs(r2.Body) != `TEST\alice` {
		t.Fatalf("the second node answered %d at %s: %s", r2.Status, r2.URL, r2.Body)
	}
	// Logout ends it on both.
	e.logoutAt(e.browser)
	for i, n := range e.nodes {
		if c := len(n.Sessions()); c != 0 {
			t.Errorf("node %d holds %d sessions after logout", i, c)
		}
	}
}

// A node that is down is reported in the log; the login succeeds on the other.
func TestLoginSucceedsWithOneNodeDown(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session", nodes: 2})
	e.nodes[1].Close()
	r := e.login(e.browser, e.bridge.URL+"/login", "alice")
	if r.Status != http.StatusOK || len(e.qps.Sessions()) != 1 {
		t.Fatalf("login: %d, %d sessions", r.Status, len(e.qps.Sessions()))
	}
	if !strings.Contains(e.logs.String(), "qlik node did not take the session") {
		t.Error("the failing node is not in the log")
	}
}
