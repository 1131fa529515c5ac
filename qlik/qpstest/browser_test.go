package qpstest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// moduleRedirect checks a redirect to the module and returns its query.
func moduleRedirect(t *testing.T, r reply, module string) url.Values {
	t.Helper()
	if r.status != http.StatusFound {
		t.Fatalf("got %d, want a redirect to the module", r.status)
	}
	loc := r.header.Get("Location")
	base, _, _ := strings.Cut(module, "?")
	if !strings.HasPrefix(loc, base+"?") {
		t.Fatalf("Location %q, want %q with a query", loc, base)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestRedirectToModule(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	cases := []struct {
		name, path, prefix, module, wantRaw string
	}{
		{"default proxy, module without a query", "/hub/", "", moduleDefault,
			moduleDefault + "?proxyRestUri="},
		{"prefix, module with a query", "/bi/sense/app/1?sheet=2", "bi", moduleBI,
			moduleBI + "&proxyRestUri="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newBrowser(t, nil).get(t, e.s.BrowserURL()+tc.path)
			q := moduleRedirect(t, r, tc.module)
			if loc := r.header.Get("Location"); !strings.HasPrefix(loc, tc.wantRaw) {
				t.Fatalf("Location %q, want prefix %q", loc, tc.wantRaw)
			}
			if got, want := q.Get("proxyRestUri"), e.s.ProxyRestURI(tc.prefix); got != want {
				t.Fatalf("proxyRestUri %q, want %q", got, want)
			}
			if !uuidV4.MatchString(q.Get("targetId")) {
				t.Fatalf("targetId %q is not a v4 UUID", q.Get("targetId"))
			}
		})
	}
}

func TestProxyRestURIForm(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	base := e.s.RESTURL()
	if !strings.HasPrefix(base, "https://localhost:") {
		t.Fatalf("RESTURL %q", base)
	}
	if got := e.s.ProxyRestURI("bi"); got != base+"/qps/bi/" {
		t.Fatalf("ProxyRestURI(bi) = %q", got)
	}
	if got := e.s.ProxyRestURI(""); got != base+"/qps/" {
		t.Fatalf("ProxyRestURI() = %q", got)
	}
}

func TestModuleRedirectURISetLater(t *testing.T) {
	t.Parallel()
	e := start(t, Config{VirtualProxies: []VirtualProxy{{Prefix: "bi"}}})
	b := newBrowser(t, nil)
	if r := b.get(t, e.s.BrowserURL()+"/bi/hub"); r.status != http.StatusInternalServerError {
		t.Fatalf("without a module: got %d", r.status)
	}
	if err := e.s.SetAuthModuleRedirectURI("bi", moduleBI); err != nil {
		t.Fatal(err)
	}
	moduleRedirect(t, b.get(t, e.s.BrowserURL()+"/bi/hub"), moduleBI)
	if err := e.s.SetAuthModuleRedirectURI("nope", moduleBI); err == nil {
		t.Fatal("unknown prefix accepted")
	}
}

func TestTargetURIFromTargetID(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	asked := "/bi/sense/app/1?sheet=2&opt=ctxmenu"
	r := newBrowser(t, nil).get(t, e.s.BrowserURL()+asked)
	targetID := moduleRedirect(t, r, moduleBI).Get("targetId")
	body := fmt.Sprintf(`{"UserDirectory":"CORP","UserId":"alice","TargetId":%q}`, targetID)

	// Another virtual proxy does not know the target id.
	if m := e.ticket(t, "", body); m["TargetUri"] != nil {
		t.Fatalf("other proxy resolved the target: %v", m)
	}
	m := e.ticket(t, "bi", body)
	if m["TargetUri"] != e.s.BrowserURL()+asked || m["TargetId"] != targetID {
		t.Fatalf("TargetUri %v, want %q", m["TargetUri"], e.s.BrowserURL()+asked)
	}
	// A target id resolves once.
	if m := e.ticket(t, "bi", body); m["TargetUri"] != nil {
		t.Fatalf("target id resolved twice: %v", m)
	}
}

func TestTicketRedemption(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	m := e.ticket(t, "bi",
		`{"UserDirectory":"CORP","UserId":"alice","Attributes":[{"Group":"Sales"},{"Group":"EMEA"}]}`)
	b := newBrowser(t, nil)
	r := b.get(t, e.s.BrowserURL()+"/bi/sense/app/1?a=1&qlikTicket="+m["Ticket"].(string)+"&b=%202")

	if r.status != http.StatusFound || r.header.Get("Location") != "/bi/sense/app/1?a=1&b=%202" {
		t.Fatalf("got %d Location %q", r.status, r.header.Get("Location"))
	}
	c := setCookie(t, r, "X-Qlik-Session-bi-HTTP")
	if !c.HttpOnly || c.Secure || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.Domain != "" {
		t.Fatalf("cookie %+v", c)
	}
	if !uuidV4.MatchString(c.Value) {
		t.Fatal("session id is not a v4 UUID")
	}

	page := b.get(t, e.s.BrowserURL()+"/bi/sense/app/1?a=1&b=%202")
	for _, want := range []string{
		`<p id="user">Logged in as CORP\alice</p>`,
		`<li>Group: Sales</li>`, `<li>Group: EMEA</li>`,
		`<code id="path">/bi/sense/app/1</code>`, `<code id="query">a=1&amp;b=%202</code>`,
	} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("page lacks %q:\n%s", want, page.body)
		}
	}
	s := e.s.Sessions()
	if len(s) != 1 || s[0].ID != c.Value || s[0].Prefix != "bi" || !s[0].Admitted {
		t.Fatalf("sessions %+v", s)
	}
}

// setCookie returns the cookie a reply sets, failing when it sets another.
func setCookie(t *testing.T, r reply, name string) *http.Cookie {
	t.Helper()
	resp := http.Response{Header: r.header}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != name {
		t.Fatalf("Set-Cookie %v, want one named %q", r.header.Values("Set-Cookie"), name)
	}
	return cookies[0]
}

func TestTicketSingleUse(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	tk := e.ticket(t, "", `{"UserDirectory":"CORP","UserId":"alice"}`)["Ticket"].(string)
	if r := newBrowser(t, nil).get(t, e.s.BrowserURL()+"/hub?qlikTicket="+tk); r.status != 302 {
		t.Fatalf("first use: %d", r.status)
	}
	r := newBrowser(t, nil).get(t, e.s.BrowserURL()+"/hub?qlikTicket="+tk)
	assertPage(t, r, http.StatusForbidden, "invalid or expired ticket")
}

func TestTicketExpiry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		after time.Duration
		want  int
	}{
		{"just in time", TicketLifetime - time.Nanosecond, http.StatusFound},
		{"at one minute", TicketLifetime, http.StatusForbidden},
		{"an hour later", time.Hour, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, Config{})
			tk := e.ticket(t, "", `{"UserDirectory":"CORP","UserId":"alice"}`)["Ticket"].(string)
			e.clock.Advance(tc.after)
			r := newBrowser(t, nil).get(t, e.s.BrowserURL()+"/hub?qlikTicket="+tk)
			if r.status != tc.want {
				t.Fatalf("got %d, want %d", r.status, tc.want)
			}
		})
	}
}

func TestTicketRefused(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	issue := func() string {
		return e.ticket(t, "bi", `{"UserDirectory":"CORP","UserId":"alice"}`)["Ticket"].(string)
	}
	cases := []struct{ name, path string }{
		{"unknown ticket", "/bi/hub?qlikTicket=abcdefghijklmnop"},
		{"empty ticket", "/bi/hub?qlikTicket="},
		{"ticket of another virtual proxy", "/hub?qlikTicket=" + issue()},
		{"two tickets", "/bi/hub?qlikTicket=" + issue() + "&qlikTicket=" + issue()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newBrowser(t, nil).get(t, e.s.BrowserURL()+tc.path)
			assertPage(t, r, http.StatusForbidden, "invalid or expired ticket")
		})
	}
	if n := len(e.s.Sessions()); n != 0 {
		t.Fatalf("%d sessions created", n)
	}
}

func assertPage(t *testing.T, r reply, status int, text string) {
	t.Helper()
	if r.status != status || !strings.Contains(r.body, text) {
		t.Fatalf("got %d %q, want %d with %q", r.status, r.body, status, text)
	}
}

func TestHTTPCookieName(t *testing.T) {
	t.Parallel()
	e := start(t, Config{VirtualProxies: []VirtualProxy{
		{Prefix: "", AuthModuleRedirectURI: moduleDefault},
		{Prefix: "bi", AuthModuleRedirectURI: moduleBI},
		{Prefix: "sales", CookieName: "Sales-Cookie", AuthModuleRedirectURI: moduleBI},
	}})
	cases := map[string]string{
		"":      "X-Qlik-Session-HTTP",
		"bi":    "X-Qlik-Session-bi-HTTP",
		"sales": "Sales-Cookie-HTTP",
	}
	for prefix, want := range cases {
		if got := e.s.CookieName(prefix); got != want {
			t.Fatalf("CookieName(%q) = %q, want %q", prefix, got, want)
		}
		id := e.addSession(t, prefix, "CORP", "user-"+prefix, `[]`)
		if r := e.visit(t, prefix, id); r.status != http.StatusOK {
			t.Fatalf("prefix %q: got %d", prefix, r.status)
		}
	}
}

func TestWrongCookieRedirectsAgain(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	cases := []struct{ name, cookie, value, path string }{
		{"name without -HTTP over http", "X-Qlik-Session-bi", id, "/bi/hub"},
		{"name of the default proxy", "X-Qlik-Session-HTTP", id, "/bi/hub"},
		{"session of another virtual proxy", "X-Qlik-Session-HTTP", id, "/hub"},
		{"unknown session id", "X-Qlik-Session-bi-HTTP", "00000000-0000-4000-8000-000000000000",
			"/bi/hub"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, nil)
			b.setCookie(t, e.s.BrowserURL(), tc.cookie, tc.value)
			module := moduleBI
			if !strings.HasPrefix(tc.path, "/bi/") {
				module = moduleDefault
			}
			moduleRedirect(t, b.get(t, e.s.BrowserURL()+tc.path), module)
		})
	}
	if s := e.s.Sessions(); len(s) != 1 || s[0].Admitted {
		t.Fatalf("sessions %+v", s)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	e := start(t, Config{VirtualProxies: []VirtualProxy{
		{Prefix: "bi", AuthModuleRedirectURI: moduleBI, SessionTimeout: 10 * time.Minute},
	}})
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	e.clock.Advance(9 * time.Minute)
	if r := e.visit(t, "bi", id); r.status != http.StatusOK {
		t.Fatalf("within the timeout: %d", r.status)
	}
	if s := e.s.Sessions(); !s[0].LastSeen.Equal(e.clock.Now()) {
		t.Fatalf("LastSeen %v, want %v", s[0].LastSeen, e.clock.Now())
	}
	e.clock.Advance(9 * time.Minute) // 18 minutes after creation, 9 after the last page
	if r := e.visit(t, "bi", id); r.status != http.StatusOK {
		t.Fatalf("activity did not extend the session: %d", r.status)
	}
	e.clock.Advance(10 * time.Minute)
	moduleRedirect(t, e.visit(t, "bi", id), moduleBI)
	if n := len(e.s.Sessions()); n != 0 {
		t.Fatalf("%d sessions after the timeout", n)
	}
}

func TestDefaultSessionTimeout(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	e.clock.Advance(DefaultSessionTimeout)
	moduleRedirect(t, e.visit(t, "bi", id), moduleBI)
}

func TestSixthSessionRefusedAtFirstPage(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	prefixes := []string{"", "bi", "", "bi", ""}
	var ids []string
	for i, prefix := range prefixes {
		id := e.addSession(t, prefix, "CORP", "alice", `[]`)
		ids = append(ids, id)
		if r := e.visit(t, prefix, id); r.status != http.StatusOK {
			t.Fatalf("session %d: got %d", i+1, r.status)
		}
	}

	// The sixth is added without complaint and refused at its first page.
	sixth := e.addSession(t, "bi", "corp", "ALICE", `[]`)
	assertPage(t, e.visit(t, "bi", sixth), http.StatusForbidden, "too many sessions")
	for _, s := range e.s.Sessions() {
		if s.ID == sixth && s.Admitted {
			t.Fatal("the refused session was admitted")
		}
	}
	// Admitted sessions keep working; another user is not affected.
	if r := e.visit(t, "", ids[0]); r.status != http.StatusOK {
		t.Fatalf("admitted session: %d", r.status)
	}
	bob := e.addSession(t, "bi", "CORP", "bob", `[]`)
	if r := e.visit(t, "bi", bob); r.status != http.StatusOK {
		t.Fatalf("other user: %d", r.status)
	}

	// Once one session ends, the sixth is admitted.
	e.call(t, http.MethodDelete, "/qps/bi/session/"+ids[1], "")
	if r := e.visit(t, "bi", sixth); r.status != http.StatusOK {
		t.Fatalf("after a logout: %d", r.status)
	}
}

func TestUnvisitedSessionsDoNotCount(t *testing.T) {
	t.Parallel()
	e := start(t, Config{MaxSessionsPerUser: 2})
	for range 5 {
		e.addSession(t, "bi", "CORP", "alice", `[]`)
	}
	for i := range 2 {
		id := e.addSession(t, "bi", "CORP", "alice", `[]`)
		if r := e.visit(t, "bi", id); r.status != http.StatusOK {
			t.Fatalf("visit %d: %d", i+1, r.status)
		}
	}
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	assertPage(t, e.visit(t, "bi", id), http.StatusForbidden, "too many sessions")
}

func TestHeaderBudget(t *testing.T) {
	t.Parallel()
	group := strings.Repeat("g", 40)
	many := make([]string, 400)
	for i := range many {
		many[i] = fmt.Sprintf(`{"Group":%q}`, group)
	}
	fits := `[{"Group":"` + group + `"}]`
	fitsSize := SecurityHeaderSize([]map[string]string{{"Group": group}})
	cases := []struct {
		name   string
		budget int
		attrs  string
		want   int
	}{
		{"400 groups of 40 characters, default budget", 0, "[" + strings.Join(many, ",") + "]",
			http.StatusBadRequest},
		{"exactly the budget", fitsSize, fits, http.StatusOK},
		{"one byte over", fitsSize - 1, fits, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, Config{MaxHeaderBytes: tc.budget})
			id := e.addSession(t, "bi", "CORP", "alice", tc.attrs)
			r := e.visit(t, "bi", id)
			if r.status != tc.want {
				t.Fatalf("got %d, want %d", r.status, tc.want)
			}
			if tc.want == http.StatusBadRequest && !strings.Contains(r.body, "Request Header Too Long") {
				t.Fatalf("body %q", r.body)
			}
		})
	}
}

func TestSecurityHeaderSize(t *testing.T) {
	t.Parallel()
	attrs := []map[string]string{{"Group": "Sales"}, {"email": ""}}
	want := len("X-Qlik-Security: SecureRequest=true; Context=AppAccess; Group=Sales; email=;")
	if got := SecurityHeaderSize(attrs); got != want {
		t.Fatalf("got %d, want %d", got, want)
	}
}

func TestPageEscapesAttributes(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "bi", "CORP", "<b>alice</b>",
		`[{"<i>k</i>":"<script>alert(1)</script>"}]`)
	r := e.visit(t, "bi", id)
	if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<b>alice") {
		t.Fatalf("unescaped markup:\n%s", r.body)
	}
	want := `<li>&lt;i&gt;k&lt;/i&gt;: &lt;script&gt;alert(1)&lt;/script&gt;</li>`
	if !strings.Contains(r.body, want) {
		t.Fatalf("page lacks %q:\n%s", want, r.body)
	}
}

func TestHubLogout(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "bi", "CORP", "alice", `[]`)
	b := newBrowser(t, nil)
	b.setCookie(t, e.s.BrowserURL(), e.s.CookieName("bi"), id)

	get, _ := http.NewRequest(http.MethodGet, e.s.BrowserURL()+"/bi/qps/user", nil)
	if r := send(t, b.c, get); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.status)
	}
	del, _ := http.NewRequest(http.MethodDelete, e.s.BrowserURL()+"/bi/qps/user", nil)
	if r := send(t, b.c, del); r.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if n := len(e.s.Sessions()); n != 0 {
		t.Fatalf("%d sessions after logout", n)
	}
	if r := send(t, b.c, del); r.status != http.StatusUnauthorized {
		t.Fatalf("second DELETE: %d", r.status)
	}
	moduleRedirect(t, b.get(t, e.s.BrowserURL()+"/bi/hub"), moduleBI)
}

func TestFaviconStartsNoLogin(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	if r := newBrowser(t, nil).get(t, e.s.BrowserURL()+"/favicon.ico"); r.status != 404 {
		t.Fatalf("got %d", r.status)
	}
}

func TestBrowserTLS(t *testing.T) {
	t.Parallel()
	e := start(t, Config{BrowserTLS: true, VirtualProxies: []VirtualProxy{
		{Prefix: "bi", AuthModuleRedirectURI: moduleBI, CookieDomain: "127.0.0.1"},
	}})
	if !strings.HasPrefix(e.s.BrowserURL(), "https://127.0.0.1:") {
		t.Fatalf("BrowserURL %q", e.s.BrowserURL())
	}
	if got := e.s.CookieName("bi"); got != "X-Qlik-Session-bi" {
		t.Fatalf("CookieName over https = %q", got)
	}
	_, _, rootFile := e.s.CertFiles()
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, rootFile))
	b := newBrowser(t, &tls.Config{RootCAs: roots})

	tk := e.ticket(t, "bi", `{"UserDirectory":"CORP","UserId":"alice"}`)["Ticket"].(string)
	r := b.get(t, e.s.BrowserURL()+"/bi/hub?qlikTicket="+tk)
	c := setCookie(t, r, "X-Qlik-Session-bi")
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Domain != "127.0.0.1" {
		t.Fatalf("cookie %+v", c)
	}
	assertPage(t, b.get(t, e.s.BrowserURL()+"/bi/hub"), http.StatusOK, `Logged in as CORP\alice`)

	// A target recorded over https is an https URL.
	r = newBrowser(t, &tls.Config{RootCAs: roots}).get(t, e.s.BrowserURL()+"/bi/sense/app/1")
	body := fmt.Sprintf(`{"UserDirectory":"CORP","UserId":"alice","TargetId":%q}`,
		moduleRedirect(t, r, moduleBI).Get("targetId"))
	if m := e.ticket(t, "bi", body); m["TargetUri"] != e.s.BrowserURL()+"/bi/sense/app/1" {
		t.Fatalf("TargetUri %v", m["TargetUri"])
	}
}

func TestUnknownPathWithoutDefaultProxy(t *testing.T) {
	t.Parallel()
	e := start(t, Config{VirtualProxies: []VirtualProxy{{Prefix: "bi", AuthModuleRedirectURI: moduleBI}}})
	if r := newBrowser(t, nil).get(t, e.s.BrowserURL()+"/hub"); r.status != http.StatusNotFound {
		t.Fatalf("got %d", r.status)
	}
}

func TestBrowserHandlerInProcess(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	ts := httptest.NewServer(e.s.BrowserHandler())
	defer ts.Close()
	b := newBrowser(t, nil)
	r := b.get(t, ts.URL+"/bi/sense/app/1")
	body := fmt.Sprintf(`{"UserDirectory":"CORP","UserId":"alice","TargetId":%q}`,
		moduleRedirect(t, r, moduleBI).Get("targetId"))
	m := e.ticket(t, "bi", body)
	if m["TargetUri"] != ts.URL+"/bi/sense/app/1" {
		t.Fatalf("TargetUri %v, want the in-process server's URL", m["TargetUri"])
	}
	if r := b.get(t, m["TargetUri"].(string)+"?qlikTicket="+m["Ticket"].(string)); r.status != 302 {
		t.Fatalf("redeem: %d", r.status)
	}
	assertPage(t, b.get(t, ts.URL+"/bi/sense/app/1"), http.StatusOK, `Logged in as CORP\alice`)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	ids := make([][]string, 8)
	for i := range ids {
		for range 3 {
			ids[i] = append(ids[i], newID(t))
		}
	}
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			// No t.Fatal here: it must not run outside the test's goroutine.
			for _, id := range ids[i] {
				if err := addAndVisit(e, fmt.Sprintf("user%d", i), id); err != nil {
					t.Error(err)
				}
				e.s.Sessions()
				e.s.Requests()
			}
		})
	}
	wg.Wait()
	if n := len(e.s.Sessions()); n != 24 {
		t.Fatalf("%d sessions, want 24", n)
	}
}

// addAndVisit adds a session and opens a page with it, reporting failures as errors.
func addAndVisit(e *env, user, id string) error {
	body := fmt.Sprintf(`{"UserDirectory":"CORP","UserId":%q,"SessionId":%q}`, user, id)
	req, _ := http.NewRequest(http.MethodPost,
		e.s.RESTURL()+"/qps/bi/session?xrfkey="+goodKey, strings.NewReader(body))
	req.Header.Set("X-Qlik-Xrfkey", goodKey)
	req.Header.Set("Content-Type", "application/json")
	if err := expectStatus(e.rest, req, http.StatusCreated); err != nil {
		return err
	}
	page, _ := http.NewRequest(http.MethodGet, e.s.BrowserURL()+"/bi/hub", nil)
	page.AddCookie(&http.Cookie{Name: e.s.CookieName("bi"), Value: id})
	return expectStatus(http.DefaultClient, page, http.StatusOK)
}

func expectStatus(c *http.Client, req *http.Request, want int) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: got %d, want %d", req.Method, req.URL.Path, resp.StatusCode, want)
	}
	return nil
}
