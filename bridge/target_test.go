package bridge

import (
	"net/url"
	"testing"
)

func testPolicy(t *testing.T) *targetPolicy {
	t.Helper()
	u, _ := url.Parse("https://qlik.example.com/bi/")
	return newTargetPolicy(&QlikConfig{VirtualProxies: []VirtualProxyConfig{{public: u}}})
}

// C17: every one of these must fall back to the landing URL.
func TestTargetPolicyRefusesOpenRedirects(t *testing.T) {
	p := testPolicy(t)
	for _, raw := range []string{
		"//evil.example",
		`/\evil.example`,
		"/%09/evil.example",
		"https://qlik.example.com@evil.example",
		"https://evil.example/qlik.example.com",
		"javascript:alert(1)",
		"https:evil.example",
		"HTTPS://EVIL.EXAMPLE",
		"https://qlik.example.com.evil.example/",
		"https://qlik.example.com:8443/bi/", // another port is another origin
		"http://qlik.example.com/bi/",       // and so is another scheme
		"https://qlik.example.com/bi/\x00",
		"https://qlik.example.com/bi/%5C%5Cevil",
		"https://qlik.example.com//evil.example/",
		"/bi/hub",
		"",
	} {
		if u, ok := p.allowed(raw); ok {
			t.Errorf("allowed(%q) = %v, want refused", raw, u)
		}
	}
}

func TestTargetPolicyKeepsQlikDeepLinks(t *testing.T) {
	p := testPolicy(t)
	for raw, want := range map[string]string{
		"https://qlik.example.com/bi/sense/app/1?sheet=2":    "https://qlik.example.com/bi/sense/app/1?sheet=2",
		"https://QLIK.example.com:443/bi/hub/":               "https://qlik.example.com:443/bi/hub/",
		"https://qlik.example.com/bi/sense/app/1#/sheet/abc": "https://qlik.example.com/bi/sense/app/1#/sheet/abc",
		"https://qlik.example.com/bi/app/a%20b?x=%2F&y":      "https://qlik.example.com/bi/app/a%20b?x=%2F&y",
		// A ticket planted in a target is dropped.
		"https://qlik.example.com/bi/hub/?qlikTicket=ATTACKER":       "https://qlik.example.com/bi/hub/",
		"https://qlik.example.com/bi/hub/?a=1&QLIKTICKET=X&b=2":      "https://qlik.example.com/bi/hub/?a=1&b=2",
		"https://qlik.example.com/bi/hub/?a=1&qlik%54icket=X#/sheet": "https://qlik.example.com/bi/hub/?a=1#/sheet",
	} {
		u, ok := p.allowed(raw)
		if !ok {
			t.Errorf("allowed(%q) refused, want kept", raw)
			continue
		}
		if got := u.String(); got != want {
			t.Errorf("allowed(%q) = %q, want %q", raw, got, want)
		}
	}
}

// C18: a target with a query gets &qlikTicket, one without gets ?qlikTicket.
func TestWithTicket(t *testing.T) {
	for _, tc := range []struct{ name, target, want string }{
		{"no query", "https://qs.example.com/bi/hub/", "https://qs.example.com/bi/hub/?qlikTicket=T1"},
		{"query", "https://qs.example.com/bi/sense/app/abc?sheet=2",
			"https://qs.example.com/bi/sense/app/abc?sheet=2&qlikTicket=T1"},
		{"fragment", "https://qs.example.com/bi/sense/app/abc#x",
			"https://qs.example.com/bi/sense/app/abc?qlikTicket=T1#x"},
		{"empty query", "https://qs.example.com/bi/hub/?", "https://qs.example.com/bi/hub/?qlikTicket=T1"},
		{"planted ticket", "https://qs.example.com/bi/hub/?qlikTicket=X&a=1",
			"https://qs.example.com/bi/hub/?a=1&qlikTicket=T1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withTicket(tc.target, "T1"); got != tc.want {
				t.Errorf("withTicket = %q, want %q", got, tc.want)
			}
		})
	}
}
