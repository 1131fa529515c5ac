package bridge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="

// writeFakeCerts writes placeholder files where the configuration expects the QMC's PEM
// files; validation only checks that they exist.
func writeFakeCerts(t *testing.T) (client, key, root string) {
	dir := t.TempDir()
	for _, n := range []string{"client.pem", "client_key.pem", "root.pem"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "client.pem"), filepath.Join(dir, "client_key.pem"),
		filepath.Join(dir, "root.pem")
}

// TestConfigExample keeps config.example.yaml valid.
func TestConfigExample(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	client, key, root := writeFakeCerts(t)
	text := strings.NewReplacer(
		"/etc/qlik-oidc-bridge/client.pem", client,
		"/etc/qlik-oidc-bridge/client_key.pem", key,
		"/etc/qlik-oidc-bridge/root.pem", root,
	).Replace(string(data))
	t.Setenv(EnvClientSecret, "s3cret")
	t.Setenv(EnvCookieKeys, testKey)
	cfg, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	vp := cfg.Qlik.VirtualProxies[0]
	if vp.landing.String() != "https://qs.example.com/bi/hub/" || cfg.OIDC.ClientSecret != "s3cret" ||
		len(cfg.keys) != 1 || cfg.Mapping.UserIDClaim != "sub" {
		t.Errorf("defaults not filled: %+v", cfg)
	}
}

func minimalConfig(t *testing.T) string {
	client, key, root := writeFakeCerts(t)
	return `
server: {public_url: "https://login.example.com"}
oidc: {issuer: "https://idp.example.com", client_id: c, client_secret: s}
qlik:
  certificates: {client: ` + client + `, client_key: ` + key + `, root: ` + root + `}
  virtual_proxies:
    - prefix: bi
      public_url: https://qs.example.com/bi/
      mode: session
      cookie_domain: example.com
      nodes: [{url: "https://qs.example.com:4243"}]
mapping: {user_directory: CORP}
access: {any_authenticated_user: true}
cookie_keys: ["` + testKey + `"]
`
}

func TestConfigMinimal(t *testing.T) {
	cfg, err := Parse([]byte(minimalConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Qlik.VirtualProxies[0].CookieName; got != "X-Qlik-Session-bi" {
		t.Errorf("default cookie name = %q", got)
	}
}

// Each broken setting is reported with its name and what to do.
func TestConfigProblems(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown key", "mapping: {", "mapping: {colour: red, ", "field colour not found"},
		{"no access rule", "access: {any_authenticated_user: true}", "access: {}",
			"access: say who may log in"},
		{"http issuer off loopback", "https://idp.example.com", "http://idp.example.com",
			"oidc.issuer: must be https"},
		{"alg none", "client_secret: s}", "client_secret: s, signing_algs: [RS256, none]}",
			"oidc.signing_algs"},
		{"capital prefix", "prefix: bi", "prefix: BI", "prefix: must be lowercase"},
		{"path is not the prefix", "qs.example.com/bi/", "qs.example.com/other/", `the path must be "/bi/"`},
		{"no mode", "mode: session", "mode: \"\"", "mode: required"},
		{"cookie domain misses the bridge", "cookie_domain: example.com",
			"cookie_domain: qs.example.com", "does not cover the bridge's host login.example.com"},
		{"cookie with -HTTP", "cookie_domain: example.com",
			"cookie_domain: example.com\n      cookie_name: X-Qlik-Session-bi-HTTP", "without -HTTP"},
		{"host-only cookie on another host", "cookie_domain: example.com", "cookie_domain: \"\"",
			"must share the cookie"},
		{"http node", "https://qs.example.com:4243", "http://qs.example.com:4243", "is not an absolute https URL"},
		{"bad key", testKey, "c2hvcnQ=", "cookie_keys[0]: must be 32 random bytes"},
		{"directory twice", "user_directory: CORP}", "user_directory: CORP, user_directory_claim: d}",
			"either user_directory"},
		{"garbage TLS files", `server: {public_url: "https://login.example.com"}`,
			`server: {public_url: "https://login.example.com", tls: {cert_file: ` +
				`config_test.go, key_file: config_test.go}}`, "server.tls: cert_file config_test.go"},
		{"same site none over https", "mode: session", "mode: session\n      same_site: none", ""},
		{"same site none over http", "https://qs.example.com/bi/",
			"http://qs.example.com/bi/\n      same_site: none", "same_site: none needs Qlik over https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(minimalConfig(t), tc.from, tc.to, 1)
			_, err := Parse([]byte(text))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigSecretsFromEnvironment(t *testing.T) {
	t.Setenv(EnvClientSecret, "from-env")
	t.Setenv(EnvCookieKeys, testKey+", "+strings.Replace(testKey, "A", "B", 1))
	cfg, err := Parse([]byte(minimalConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OIDC.ClientSecret != "from-env" || len(cfg.keys) != 2 {
		t.Errorf("secret %v, %d keys", cfg.OIDC.ClientSecret, len(cfg.keys))
	}
	if s := cfg.OIDC.ClientSecret.String(); strings.Contains(s, "from-env") {
		t.Errorf("Secret.String() = %q reveals the secret", s)
	}
}

func TestConfigMessagesForPeople(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(minimalConfig(t), "mapping: {", "mapping: {colour: red, ", 1)))
	if err == nil || strings.Contains(err.Error(), "bridge.") {
		t.Errorf("unknown key: %v; want no Go type name", err)
	}
	if _, err := Parse(nil); err == nil || !strings.Contains(err.Error(), "the file is empty") {
		t.Errorf("empty file: %v", err)
	}
}
