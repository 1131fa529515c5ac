package oidctest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

func TestNewRefusesBadConfig(t *testing.T) {
	smallKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	client := oidctest.Client{ID: "c", Secret: "s", RedirectURIs: []string{callback}}
	for _, tc := range []struct {
		name, want string
		edit       func(*oidctest.Config)
	}{
		{"no issuer", "issuer is required", func(c *oidctest.Config) { c.Issuer = "" }},
		{"relative issuer", "absolute", func(c *oidctest.Config) { c.Issuer = "/idp" }},
		{"ftp issuer", "absolute", func(c *oidctest.Config) { c.Issuer = "ftp://idp.example" }},
		{"issuer with query", "query", func(c *oidctest.Config) {
			c.Issuer = "https://idp.example?x=1"
		}},
		{"no users", "one user", func(c *oidctest.Config) { c.Users = nil }},
		{"no password", "password", func(c *oidctest.Config) { c.Users[0].Password = "" }},
		{"duplicate user", "duplicate username", func(c *oidctest.Config) {
			c.Users = append(c.Users, oidctest.User{Username: "alice", Password: "x"})
		}},
		{"duplicate subject", "duplicate subject", func(c *oidctest.Config) {
			c.Users[0].Subject, c.Users[1].Subject = "same", "same"
		}},
		{"reserved claim", `"nonce"`, func(c *oidctest.Config) {
			c.Users[0].Claims["nonce"] = "fixed"
		}},
		{"claim that is not JSON", `"bad"`, func(c *oidctest.Config) {
			c.Users[0].Claims["bad"] = func() {}
		}},
		{"no clients", "one client", func(c *oidctest.Config) { c.Clients = nil }},
		{"no secret", "secret", func(c *oidctest.Config) { c.Clients[0].Secret = "" }},
		{"no redirect", "redirect URI", func(c *oidctest.Config) {
			c.Clients[0].RedirectURIs = nil
		}},
		{"relative redirect", "absolute", func(c *oidctest.Config) {
			c.Clients[0].RedirectURIs = []string{"/callback"}
		}},
		{"redirect with fragment", "fragment", func(c *oidctest.Config) {
			c.Clients[0].RedirectURIs = []string{callback + "#x"}
		}},
		{"unknown auth method", "auth method", func(c *oidctest.Config) {
			c.Clients[0].AuthMethod = "private_key_jwt"
		}},
		{"duplicate client", "duplicate id", func(c *oidctest.Config) {
			c.Clients = append(c.Clients, client, client)
		}},
		{"negative lifetime", "negative", func(c *oidctest.Config) {
			c.IDTokenLifetime = -time.Second
		}},
		{"small key", "2048", func(c *oidctest.Config) { c.Key = smallKey }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(&clock{})
			cfg.Issuer = "https://idp.example"
			tc.edit(&cfg)
			_, err := oidctest.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) ||
				!strings.HasPrefix(err.Error(), "oidctest: ") {
				t.Fatalf("New: %v, want an error about %s", err, tc.want)
			}
		})
	}
}

func TestNewGeneratesAKey(t *testing.T) {
	cfg := baseConfig(&clock{})
	cfg.Issuer, cfg.Key = "http://localhost:9082", nil
	p, err := oidctest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := p.PublicKey().(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 || p.KeyID() == "" {
		t.Fatalf("key %T, kid %q: want RSA 2048 with a kid", p.PublicKey(), p.KeyID())
	}
	if pub.Equal(&testKey().PublicKey) {
		t.Error("New reused a key it was not given")
	}
}

func TestSignVerifiesWithThePublicKey(t *testing.T) {
	e := setup(t, nil)
	now := e.clock.Now()
	raw, err := e.p.Sign(map[string]any{
		"iss": e.srv.URL, "aud": basicID, "sub": "built-by-a-test",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{e.p.PublicKey()}}
	v := oidc.NewVerifier(e.srv.URL, keys, &oidc.Config{ClientID: basicID, Now: e.clock.Now})
	idt, err := v.Verify(e.ctx, raw)
	if err != nil || idt.Subject != "built-by-a-test" {
		t.Fatalf("verify: %v", err)
	}
	// The token also verifies through discovery and the published keys.
	if _, err := e.rp.Verifier(&oidc.Config{ClientID: basicID, Now: e.clock.Now}).
		Verify(e.ctx, raw); err != nil {
		t.Fatalf("verify via JWKS: %v", err)
	}
}

func TestDemoUsers(t *testing.T) {
	users := oidctest.DemoUsers()
	byName := map[string]oidctest.User{}
	for _, u := range users {
		byName[u.Username] = u
		if u.Password != u.Username {
			t.Errorf("%s: password is not the username", u.Username)
		}
	}
	alice := byName["alice"].Claims
	if !slices.Equal(alice["groups"].([]string), []string{"Sales", "EMEA"}) ||
		alice["email"] != "alice@example.com" {
		t.Errorf("alice: %v", byName["alice"].Claims)
	}
	if g := byName["bob"].Claims["groups"]; !slices.Equal(g.([]string), []string{"Finance"}) {
		t.Errorf("bob: %v", byName["bob"].Claims)
	}
	if _, ok := byName["carol"].Claims["groups"]; ok || len(users) != 3 {
		t.Errorf("carol has groups, or not three users")
	}
	users[0].Claims["groups"] = nil
	if oidctest.DemoUsers()[0].Claims["groups"] == nil {
		t.Error("DemoUsers returned shared maps")
	}
}

func TestRouting(t *testing.T) {
	e := setup(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/nowhere", http.StatusNotFound, ""},
		{http.MethodGet, "/login", http.StatusMethodNotAllowed, "POST"},
		{http.MethodDelete, "/authorize", http.StatusMethodNotAllowed, "GET, POST"},
		{http.MethodPost, "/keys", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodHead, "/.well-known/openid-configuration", http.StatusOK, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
			resp, _ := e.do(t, req)
			if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
				t.Errorf("status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
			}
		})
	}
}
