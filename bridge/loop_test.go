package bridge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// C20: the bridge sets a cookie the proxy does not read (X-Qlik-Session while the virtual
// proxy uses X-Qlik-Session-bi). The third return of the browser from Qlik within the
// window stops on a page that lists the causes, instead of looping forever.
func TestLoginLoopIsStopped(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session", config: func(s string) string {
		return strings.Replace(s, "cookie_name: X-Qlik-Session-bi", "cookie_name: X-Qlik-Session", 1)
	}})
	deep := e.qlik("/bi/sense/app/abc")
	var r result
	logins := 0
	r = e.visit(e.browser, deep)
	for ; logins < 5 && strings.HasPrefix(r.URL, e.idpSrv.URL); logins++ {
		back := e.authorize(e.browser, r.URL, "alice")
		r = e.visit(e.browser, back)
	}
	if logins != 2 || r.Status != http.StatusConflict {
		t.Fatalf("after %d logins: %d at %s", logins, r.Status, r.URL)
	}
	for _, cause := range []string{"X-Qlik-Session-HTTP", "session cookie header name",
		"cookie domain", "-HTTP"} {
		if !strings.Contains(r.Body, cause) {
			t.Errorf("the page does not mention %q: %s", cause, r.Body)
		}
	}
	// The proxy's log gets a line for the Qlik administrator (POST /qps/error).
	deadline := time.Now().Add(5 * time.Second)
	for len(e.qps.ModuleErrors()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if m := e.qps.ModuleErrors(); len(m) != 1 || !strings.Contains(m[0].Message, "X-Qlik-Session-HTTP") {
		t.Errorf("module errors in the proxy log: %+v", m)
	}
	// The window passes: the browser may try again.
	e.clock.Advance(3 * 60e9)
	if r := e.visit(e.browser, deep); !strings.HasPrefix(r.URL, e.idpSrv.URL) {
		t.Errorf("after the window, a return still stops: %d", r.Status)
	}
}

// Several Qlik tabs restored at once send the browser to the bridge several times before
// any login completes: that is no loop.
func TestRestoredTabsAreNoLoop(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session"})
	for i := 0; i < 4; i++ {
		r := e.visit(e.browser, e.qlik("/bi/sense/app/"+string(rune('a'+i))))
		if !strings.HasPrefix(r.URL, e.idpSrv.URL) {
			t.Fatalf("tab %d stopped at %s (%d)", i, r.URL, r.Status)
		}
	}
}

// A browser that logs in normally, even several times, is never stopped.
func TestNoLoopForWorkingLogins(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session"})
	for i := 0; i < 4; i++ {
		c := e.newBrowser()
		if r := e.login(c, e.qlik("/bi/hub/"), "alice"); r.Status != http.StatusOK {
			t.Fatalf("login %d: %d", i, r.Status)
		}
	}
}
