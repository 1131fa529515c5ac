package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

func TestConfigValidation(t *testing.T) {
	idp := newFakeIdP(t)
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }, "Issuer is required"},
		{"relative issuer", func(c *Config) { c.Issuer = "/idp" }, "absolute URL"},
		{"http issuer off loopback", func(c *Config) { c.Issuer = "http://idp.example.com" },
			"must use https"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID is required"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "ClientSecret is required"},
		{"no redirect", func(c *Config) { c.RedirectURL = "" }, "RedirectURL is required"},
		{"relative redirect", func(c *Config) { c.RedirectURL = "/callback" },
			"RedirectURL must be an absolute"},
		{"unknown auth method", func(c *Config) { c.AuthMethod = "private_key_jwt" },
			"AuthMethod must be"},
		{"leeway over five minutes", func(c *Config) { c.Leeway = 6 * time.Minute },
			"Leeway must be"},
		{"negative leeway", func(c *Config) { c.Leeway = -time.Second }, "Leeway must be"},
		{"alg none", func(c *Config) { c.SigningAlgs = []string{"RS256", "none"} },
			`must not list "none"`},
		{"unknown alg", func(c *Config) { c.SigningAlgs = []string{"HS512"} },
			"not supported"},
		{"empty alg list", func(c *Config) { c.SigningAlgs = []string{} }, "SigningAlgs is empty"},
		{"HS256 with a short secret", func(c *Config) {
			c.SigningAlgs = []string{"HS256"}
			c.ClientSecret = "short"
		}, "at least 32 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := idp.config()
			tc.edit(&cfg)
			_, err := New(context.Background(), cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := Config{
		Issuer: "http://127.0.0.1:9000", ClientID: "c", ClientSecret: "s",
		RedirectURL: "http://127.0.0.1:8080/callback", Scopes: []string{"groups"},
	}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Scopes, " "); got != "openid groups" {
		t.Errorf("scopes = %q, want openid added", got)
	}
	if s.Leeway != time.Minute || s.HTTPClient == nil || s.Now == nil {
		t.Errorf("defaults not filled: leeway %v, client %v", s.Leeway, s.HTTPClient)
	}
	if got := strings.Join(s.SigningAlgs, " "); got != "RS256 ES256 PS256" {
		t.Errorf("algs = %q", got)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	cases := []struct {
		name                 string
		configured, announce string // suffixes to the provider's URL
		want                 string
	}{
		{"configured without the provider's trailing slash", "", "/",
			"only by a trailing slash"},
		{"configured with a trailing slash the provider lacks", "/", "",
			"only by a trailing slash"},
		{"another tenant", "", "/tenant-b", "differs from the issuer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idp := newFakeIdP(t)
			idp.issuer = idp.srv.URL + tc.announce
			cfg := idp.config()
			cfg.Issuer = idp.srv.URL + tc.configured
			_, err := New(context.Background(), cfg)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrDiscovery) ||
				e.Reason != "issuer_mismatch" {
				t.Fatalf("New = %v, want ErrDiscovery issuer_mismatch", err)
			}
			msg := err.Error()
			for _, w := range []string{tc.want, "set the issuer to",
				quote(cfg.Issuer), quote(idp.issuer)} {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestDiscoveryFailures(t *testing.T) {
	t.Run("untrusted certificate with the default client", func(t *testing.T) {
		idp := newFakeIdP(t)
		cfg := idp.config()
		cfg.HTTPClient = nil
		_, err := New(context.Background(), cfg)
		if !errors.Is(err, ErrDiscovery) {
			t.Fatalf("New = %v, want ErrDiscovery", err)
		}
	})
	t.Run("no supported auth method", func(t *testing.T) {
		idp := newFakeIdP(t)
		idp.authMethods = []string{"private_key_jwt"}
		_, err := New(context.Background(), idp.config())
		if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), "private_key_jwt") {
			t.Fatalf("New = %v, want ErrDiscovery naming the listed methods", err)
		}
	})
}

func TestAuthCodeURL(t *testing.T) {
	idp := newFakeIdP(t)
	rp := idp.newRP(t, nil)
	u, err := url.Parse(rp.AuthCodeURL("state-1", testNonce, testVerifier))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != idp.srv.URL+"/authorize" {
		t.Errorf("endpoint = %s", got)
	}
	q := u.Query()
	want := map[string]string{
		"response_type":         "code",
		"client_id":             testClientID,
		"redirect_uri":          testRedirect,
		"scope":                 "openid profile email",
		"state":                 "state-1",
		"nonce":                 testNonce,
		"code_challenge":        oauth2.S256ChallengeFromVerifier(testVerifier),
		"code_challenge_method": "S256",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Has("code_verifier") {
		t.Error("the verifier itself leaked into the authorization URL")
	}
	if rp.EndSessionURL() != idp.srv.URL+"/logout" {
		t.Errorf("EndSessionURL = %q", rp.EndSessionURL())
	}
}

func TestAuthMethod(t *testing.T) {
	cases := []struct {
		name       string
		discovered []string
		configured string
		want       string
	}{
		{"absent from discovery", nil, "", AuthMethodBasic},
		{"discovery lists both", []string{AuthMethodPost, AuthMethodBasic}, "", AuthMethodBasic},
		{"discovery lists only post", []string{AuthMethodPost, "private_key_jwt"}, "",
			AuthMethodPost},
		{"config post over discovery basic", []string{AuthMethodBasic}, AuthMethodPost,
			AuthMethodPost},
		{"config basic over discovery post", []string{AuthMethodPost}, AuthMethodBasic,
			AuthMethodBasic},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idp := newFakeIdP(t)
			idp.authMethods = tc.discovered
			rp := idp.newRP(t, func(c *Config) { c.AuthMethod = tc.configured })
			if rp.AuthMethod() != tc.want {
				t.Fatalf("AuthMethod = %q, want %q", rp.AuthMethod(), tc.want)
			}
			idp.setToken(sign(t, jose.RS256, rsaKey, "rsa1", idp.claims()))
			if _, err := rp.Exchange(context.Background(), testCode, testVerifier,
				testNonce); err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			reqs := idp.tokenRequests()
			if len(reqs) != 1 {
				t.Fatalf("%d token requests, want 1", len(reqs))
			}
			checkTokenRequest(t, reqs[0], tc.want)
		})
	}
}

// checkTokenRequest asserts the shape of a token request for the given auth method.
func checkTokenRequest(t *testing.T, req tokenRequest, method string) {
	t.Helper()
	f := req.form
	if f.Get("grant_type") != "authorization_code" || f.Get("code") != testCode ||
		f.Get("redirect_uri") != testRedirect || f.Get("code_verifier") != testVerifier {
		t.Errorf("token form = %v", f)
	}
	auth := req.header.Get("Authorization")
	switch method {
	case AuthMethodBasic:
		want := "Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(testClientID)+":"+url.QueryEscape(testSecret)))
		if auth != want || f.Has("client_secret") {
			t.Errorf("basic: Authorization %q, form secret present %v", auth, f.Has("client_secret"))
		}
	case AuthMethodPost:
		if auth != "" || f.Get("client_id") != testClientID || f.Get("client_secret") != testSecret {
			t.Errorf("post: Authorization %q, form %v", auth, f)
		}
	}
}

func TestExchangeMakesOneRequestOnRejectedCode(t *testing.T) {
	cases := []struct {
		name, tokenErr, method, wantMessage string
	}{
		{"invalid_grant with basic", "invalid_grant", AuthMethodBasic, msgCode},
		{"invalid_grant with post", "invalid_grant", AuthMethodPost, msgCode},
		{"invalid_client with basic", "invalid_client", AuthMethodBasic, msgClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idp := newFakeIdP(t)
			idp.tokenErr = tc.tokenErr
			rp := idp.newRP(t, func(c *Config) { c.AuthMethod = tc.method })
			_, err := rp.Exchange(context.Background(), testCode, testVerifier, testNonce)
			if !errors.Is(err, ErrProvider) {
				t.Fatalf("Exchange = %v, want ErrProvider", err)
			}
			if n := len(idp.tokenRequests()); n != 1 {
				t.Fatalf("%d token requests, want exactly 1 (a code is single-use)", n)
			}
			var e *Error
			if !errors.As(err, &e) || e.Message != tc.wantMessage || e.Reason != tc.tokenErr {
				t.Fatalf("error = %#v", e)
			}
			checkNoSecrets(t, err)
		})
	}
}

func TestExchangeMissingIDToken(t *testing.T) {
	idp := newFakeIdP(t)
	rp := idp.newRP(t, nil)
	_, err := rp.Exchange(context.Background(), testCode, testVerifier, testNonce)
	if !errors.Is(err, ErrExchange) || !strings.Contains(err.Error(), "no id_token") {
		t.Fatalf("Exchange = %v, want ErrExchange", err)
	}
}

func TestExchangeNeedsInputs(t *testing.T) {
	idp := newFakeIdP(t)
	rp := idp.newRP(t, nil)
	_, err := rp.Exchange(context.Background(), testCode, testVerifier, "")
	if !errors.Is(err, ErrExchange) || len(idp.tokenRequests()) != 0 {
		t.Fatalf("Exchange = %v with %d requests", err, len(idp.tokenRequests()))
	}
}

func TestExchangeUnreachable(t *testing.T) {
	idp := newFakeIdP(t)
	rp := idp.newRP(t, nil)
	idp.srv.Close()
	_, err := rp.Exchange(context.Background(), testCode, testVerifier, testNonce)
	if !errors.Is(err, ErrExchange) {
		t.Fatalf("Exchange = %v, want ErrExchange", err)
	}
	checkNoSecrets(t, err)
}

// checkNoSecrets fails when an error's text or message holds the code or the secret.
func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an *Error", err)
	}
	for _, text := range []string{err.Error(), e.Message} {
		for _, secret := range []string{testCode, testSecret, "access-token-value"} {
			if strings.Contains(text, secret) {
				t.Errorf("error text %q holds a secret", text)
			}
		}
	}
}

// BenchmarkExchange measures the whole login path: the token request over TLS (with the
// fake provider's share of the work) and the ID token checks. The token is signed once.
func BenchmarkExchange(b *testing.B) {
	idp := newFakeIdP(b)
	idp.setToken(sign(b, jose.RS256, rsaKey, "rsa1", idp.claims()))
	rp := idp.newRP(b, nil)
	ctx := context.Background()
	if _, err := rp.Exchange(ctx, testCode, testVerifier, testNonce); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := rp.Exchange(ctx, testCode, testVerifier, testNonce); err != nil {
			b.Fatal(err)
		}
	}
}
