package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// One bridge serves several virtual proxies, each with its own mode, cookie and rules.
func TestSeveralVirtualProxies(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session", config: func(s string) string {
		restURL := e0RESTURL(s)
		return strings.Replace(s, "mapping:\n", `    - prefix: sales
      public_url: `+e0BrowserURL(s)+`/sales/
      mode: ticket
      nodes: [{url: "`+restURL+`"}]
      access: {groups: [Finance]}
mapping:
`, 1)
	}})
	// Qlik-initiated logins on each proxy land on their pages with their cookies.
	bi := e.login(e.newBrowser(), e.qlik("/bi/sense/app/1?sheet=a"), "alice")
	sales := e.login(e.newBrowser(), e.qlik("/sales/sense/app/2?sheet=b"), "bob")
	if bi.Status != http.StatusOK || sales.Status != http.StatusOK {
		t.Fatalf("bi %d, sales %d", bi.Status, sales.Status)
	}
	if sales.URL != e.qlik("/sales/sense/app/2?sheet=b") {
		t.Errorf("sales ended at %s", sales.URL)
	}
	byProxy := map[string]string{}
	for _, s := range e.qps.Sessions() {
		byProxy[s.Prefix] = s.UserID
	}
	if byProxy["bi"] != "alice" || byProxy["sales"] != "bob" {
		t.Errorf("sessions by proxy: %v", byProxy)
	}
	// A portal link to a sales page picks the sales proxy and its access rule.
	r := e.login(e.newBrowser(), e.bridge.URL+"/login?target="+
		url.QueryEscape(e.qlik("/sales/hub/")), "alice")
	if r.Status != http.StatusForbidden {
		t.Errorf("alice, not in Finance, on sales: %d at %s", r.Status, r.URL)
	}
}

// e0RESTURL and e0BrowserURL read the first node's URLs back from the generated config.
func e0RESTURL(cfg string) string {
	_, rest, _ := strings.Cut(cfg, `nodes: [{url: "`)
	u, _, _ := strings.Cut(rest, `"`)
	return u
}

func e0BrowserURL(cfg string) string {
	_, rest, _ := strings.Cut(cfg, "- prefix: bi\n      public_url: ")
	u, _, _ := strings.Cut(rest, "/bi/")
	return strings.TrimSpace(u)
}
