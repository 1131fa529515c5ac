package bridge_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var userLine = regexp.MustCompile(`id="user">Logged in as ([^<]*)<`)

func loggedInAs(body string) string {
	m := userLine.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&#39;", "'")
}

// C18: Qlik sends the user with proxyRestUri and targetId; after the login they land on
// the deep link they asked for, with its query, in either mode.
func TestQlikInitiatedLoginLandsOnDeepLink(t *testing.T) {
	for _, mode := range []string{"session", "ticket"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{mode: mode})
			deep := e.qlik("/bi/sense/app/abc?sheet=2&opt=ctxmenu")
			r := e.login(e.browser, deep, "alice")
			if r.Status != http.StatusOK || r.URL != deep {
				t.Fatalf("ended at %s (%d), want %s; hops %q", r.URL, r.Status, deep, r.Hops)
			}
			if got := loggedInAs(r.Body); got != `TEST\alice` {
				t.Errorf("page names %q", got)
			}
			var sawTicket bool
			for _, h := range r.Hops {
				if strings.HasPrefix(h, deep+"&qlikTicket=") {
					sawTicket = true
				}
			}
			// Ticket mode redeems a ticket; session mode resolves the targetId with a
			// ticket it never uses, and sets its own cookie.
			if sawTicket != (mode == "ticket") {
				t.Errorf("hop with &qlikTicket: %v in %s mode: %q", sawTicket, mode, r.Hops)
			}
			sessions := e.qps.Sessions()
			if len(sessions) != 1 {
				t.Fatalf("simulator holds %d sessions, want 1", len(sessions))
			}
			s := sessions[0]
			want := []map[string]string{{"Group": "Sales"}, {"Group": "EMEA"},
				{"email": "alice@example.com"}}
			if s.UserDirectory != "TEST" || s.UserID != "alice" || !sameAttrs(s.Attributes, want) {
				t.Errorf("session %+v, want TEST\\alice with %v", s, want)
			}
		})
	}
}

func sameAttrs(got, want []map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		for k, v := range want[i] {
			if len(got[i]) != 1 || got[i][k] != v {
				return false
			}
		}
	}
	return true
}

// A portal link in session mode: the bridge adds the session with a v4 UUID and sets
// the virtual proxy's cookie, with -HTTP since this Qlik is reached over http.
func TestPortalLoginSessionMode(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session"})
	target := e.qlik("/bi/sense/app/xyz?sheet=1")
	r := e.login(e.browser, e.bridge.URL+"/login?target="+url.QueryEscape(target), "bob")
	if r.Status != http.StatusOK || r.URL != target || loggedInAs(r.Body) != `TEST\bob` {
		t.Fatalf("ended at %s (%d) as %q; hops %q", r.URL, r.Status, loggedInAs(r.Body), r.Hops)
	}
	sessions := e.qps.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(sessions))
	}
	id, err := uuid.Parse(sessions[0].ID)
	if err != nil || id.Version() != 4 {
		t.Errorf("session id is not a v4 UUID")
	}
	u, _ := url.Parse(e.qps.BrowserURL())
	var found bool
	for _, c := range e.browser.Jar.Cookies(u) {
		if c.Name == "X-Qlik-Session-bi-HTTP" && c.Value == sessions[0].ID {
			found = true
		}
	}
	if !found {
		t.Error("no X-Qlik-Session-bi-HTTP cookie with the session id")
	}
	for _, h := range r.Hops {
		if strings.Contains(h, "qlikTicket") {
			t.Errorf("session mode used a ticket: %s", h)
		}
	}
}

func TestPortalLoginTicketMode(t *testing.T) {
	e := newEnv(t, envOptions{mode: "ticket"})
	target := e.qlik("/bi/hub/")
	r := e.login(e.browser, e.bridge.URL+"/login?target="+url.QueryEscape(target), "alice")
	if r.Status != http.StatusOK || r.URL != target {
		t.Fatalf("ended at %s (%d); hops %q", r.URL, r.Status, r.Hops)
	}
	if n := len(e.qps.Sessions()); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

// C18: the module opened directly, without parameters, logs in to the landing URL.
func TestDirectLoginLandsOnHub(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.login(e.browser, e.bridge.URL+"/login", "alice")
	if want := e.qlik("/bi/hub/"); r.URL != want || r.Status != http.StatusOK {
		t.Fatalf("ended at %s (%d), want %s", r.URL, r.Status, want)
	}
}

// C17: a target off the Qlik origins lands on the landing URL instead.
func TestOpenRedirectTargetsLandOnHub(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, target := range []string{"//evil.example", "https://evil.example/", "javascript:alert(1)",
		"https://" + strings.TrimPrefix(e.qps.BrowserURL(), "http://") + "@evil.example/"} {
		c := e.newBrowser()
		r := e.login(c, e.bridge.URL+"/login?target="+url.QueryEscape(target), "alice")
		if want := e.qlik("/bi/hub/"); r.URL != want {
			t.Errorf("target %q ended at %s, want %s", target, r.URL, want)
		}
	}
}

// C18: a proxyRestUri that names no configured node is refused and nothing is sent to it.
func TestProxyRestURIOfUnknownHostIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	var contacted bool
	evil := newRecorder(t, &contacted)
	for _, pru := range []string{
		evil + "/qps/bi/",
		"https://evil.example.net/qps/bi/",
		e.qps.RESTURL() + "/qps/other/", // a virtual proxy that is not configured
		strings.Replace(e.qps.RESTURL(), "https", "http", 1) + "/qps/bi/",
	} {
		r := e.visit(e.newBrowser(), e.bridge.URL+"/login?targetId=x&proxyRestUri="+url.QueryEscape(pru))
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "Unknown Qlik proxy") {
			t.Errorf("proxyRestUri %s: %d at %s", pru, r.Status, r.URL)
		}
	}
	if contacted {
		t.Error("the bridge sent a request to the proxyRestUri from the request")
	}
	if n := len(e.qps.Requests()); n != 0 {
		t.Errorf("the simulator got %d REST calls, want 0", n)
	}
}

// C15: two tabs start logins, the second finishes first, then the first; both succeed.
func TestTwoTabsLogInAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session"})
	a := e.qlik("/bi/sense/app/A")
	b := e.qlik("/bi/sense/app/B")
	cbA := e.authorize(e.browser, e.bridge.URL+"/login?target="+url.QueryEscape(a), "alice")
	cbB := e.authorize(e.browser, e.bridge.URL+"/login?target="+url.QueryEscape(b), "alice")
	if rb := e.visit(e.browser, cbB); rb.URL != b || rb.Status != http.StatusOK {
		t.Fatalf("tab B ended at %s (%d)", rb.URL, rb.Status)
	}
	if ra := e.visit(e.browser, cbA); ra.URL != a || ra.Status != http.StatusOK {
		t.Fatalf("tab A ended at %s (%d)", ra.URL, ra.Status)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, err := http.Get(e.bridge.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
}

// The redirect URI comes from public_url, never from Host or X-Forwarded-* headers.
func TestRedirectURIIgnoresForwardedHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	req, _ := http.NewRequest("GET", e.bridge.URL+"/login", nil)
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := e.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if got := loc.Query().Get("redirect_uri"); got != e.bridge.URL+"/callback" {
		t.Errorf("redirect_uri = %q", got)
	}
}

// A user may hold at most five proxy sessions: a browser that logs in again replaces its
// session instead of adding one, so the sixth login still reaches its page.
func TestLoggingInSixTimesKeepsOneSession(t *testing.T) {
	for _, mode := range []string{"session", "ticket"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{mode: mode})
			for i := 1; i <= 6; i++ {
				target := e.qlik("/bi/sense/app/" + string(rune('a'+i)))
				r := e.login(e.browser, e.bridge.URL+"/login?target="+url.QueryEscape(target), "alice")
				if r.Status != http.StatusOK || r.URL != target {
					t.Fatalf("login %d ended at %s (%d): %s", i, r.URL, r.Status, r.Body)
				}
				if n := len(e.qps.Sessions()); n != 1 {
					t.Fatalf("after login %d the simulator holds %d sessions, want 1", i, n)
				}
			}
		})
	}
}

// Another identity in the same browser ends the first one's session.
func TestAnotherUserInTheSameBrowserEndsTheOldSession(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session"})
	e.login(e.browser, e.bridge.URL+"/login", "alice")
	r := e.login(e.browser, e.bridge.URL+"/login", "bob")
	if loggedInAs(r.Body) != `TEST\bob` {
		t.Fatalf("page names %q", loggedInAs(r.Body))
	}
	s := e.qps.Sessions()
	if len(s) != 1 || s[0].UserID != "bob" {
		t.Fatalf("sessions %+v, want only bob's", s)
	}
}
