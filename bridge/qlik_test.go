package bridge_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

var xrfkeyShape = regexp.MustCompile(`^[0-9A-Za-z]{16}$`)

// C19: every QPS call carries a fresh 16-character key, the same in query and header.
func TestEveryQPSCallCarriesAFreshXrfkey(t *testing.T) {
	e := newEnv(t, envOptions{mode: "session"})
	for i := 0; i < 3; i++ {
		e.login(e.newBrowser(), e.bridge.URL+"/login", "alice")
	}
	e.login(e.newBrowser(), e.qlik("/bi/hub/"), "bob") // a ticket for the target, a session
	reqs := e.qps.Requests()
	if len(reqs) != 5 {
		t.Fatalf("%d calls, want 5", len(reqs))
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if r.QueryXrfkey != r.HeaderXrfkey || !xrfkeyShape.MatchString(r.QueryXrfkey) {
			t.Errorf("%s %s: query key %q, header key %q", r.Method, r.Path, r.QueryXrfkey, r.HeaderXrfkey)
		}
		if seen[r.QueryXrfkey] {
			t.Errorf("key reused")
		}
		seen[r.QueryXrfkey] = true
		if r.Status != http.StatusCreated {
			t.Errorf("%s %s: %d", r.Method, r.Path, r.Status)
		}
	}
}

// C19: a client certificate the site did not issue fails the handshake; the user gets a
// page with a reference, the log names the certificate file.
func TestForeignClientCertificateIsReported(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := qpstest.WriteForeignClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{config: func(s string) string {
		s = regexp.MustCompile(`client: "[^"]*"`).ReplaceAllString(s, `client: "`+cert+`"`)
		return regexp.MustCompile(`client_key: "[^"]*"`).ReplaceAllString(s, `client_key: "`+key+`"`)
	}})
	r := e.login(e.browser, e.bridge.URL+"/login", "alice")
	if r.Status != http.StatusBadGateway || !strings.Contains(r.Body, "Reference:") {
		t.Fatalf("%d: %s", r.Status, r.Body)
	}
	ref := regexp.MustCompile(`id="reference">([^<]+)<`).FindStringSubmatch(r.Body)
	logs := e.logs.String()
	if ref == nil || !strings.Contains(logs, ref[1]) {
		t.Errorf("the page's reference is not in the log")
	}
	if !strings.Contains(logs, "client.pem") {
		t.Errorf("the log does not name client.pem: %s", logs)
	}
}

// The log holds no code, state, ticket, session id, cookie value or secret.
func TestLogsHoldNoSecrets(t *testing.T) {
	for _, mode := range []string{"session", "ticket"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{mode: mode})
			r := e.login(e.browser, e.qlik("/bi/sense/app/1"), "alice")
			if r.Status != http.StatusOK {
				t.Fatal(r.Status)
			}
			logs := e.logs.String()
			var secrets []string
			for _, h := range r.Hops {
				for _, p := range []string{"code=", "state=", "qlikTicket="} {
					if _, v, ok := strings.Cut(h, p); ok {
						v, _, _ = strings.Cut(v, "&")
						secrets = append(secrets, v)
					}
				}
			}
			for _, s := range e.qps.Sessions() {
				secrets = append(secrets, s.ID)
			}
			secrets = append(secrets, "bridge-secret", testCookieKey)
			for _, s := range secrets {
				if len(s) >= 8 && strings.Contains(logs, s) {
					t.Errorf("the log contains a secret value %q", s)
				}
			}
			if !strings.Contains(logs, `"msg":"login completed"`) {
				t.Errorf("no login line in %s", logs)
			}
		})
	}
}
