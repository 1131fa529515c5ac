package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// tokenCase is one ID token handed out by the fake provider and the expected outcome.
type tokenCase struct {
	name   string
	claims func(c map[string]any)                      // edits valid claims
	token  func(t *testing.T, c map[string]any) string // nil: RS256 with rsa1
	config func(cfg *Config)                           // edits the Config
	idp    func(idp *fakeIdP)                          // edits the provider
	kind   error                                       // nil: accepted
	reason string                                      // Error.Reason when refused
	detail string                                      // part of Error.Detail
	check  func(t *testing.T, login *Login)            // more checks on success
	_      struct{}                                    // keyed fields only
}

func set(name string, v any) func(map[string]any) {
	return func(c map[string]any) { c[name] = v }
}

func drop(name string) func(map[string]any) {
	return func(c map[string]any) { delete(c, name) }
}

func signedWith(alg jose.SignatureAlgorithm, key any, kid string) func(*testing.T,
	map[string]any) string {
	return func(t *testing.T, c map[string]any) string { return sign(t, alg, key, kid, c) }
}

func withAlgs(algs ...string) func(*Config) {
	return func(cfg *Config) { cfg.SigningAlgs = algs }
}

func TestVerifyIDToken(t *testing.T) {
	testKeys(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	octSecret := []byte("an-oct-key-wrongly-published-in-jwks!")
	now := testNow.Unix()

	cases := []tokenCase{
		{name: "happy path RS256", check: func(t *testing.T, l *Login) {
			if l.Subject != "alice" || !l.Expiry.Equal(time.Unix(now+600, 0)) {
				t.Errorf("login = %+v", l)
			}
			if _, ok := l.Claims["exp"].(json.Number); !ok {
				t.Errorf("exp is %T, want json.Number", l.Claims["exp"])
			}
		}},
		{name: "happy path ES256", token: signedWith(jose.ES256, ecKey, "ec1")},
		{name: "PS256 allowed by default", token: signedWith(jose.PS256, rsaKey, "rsa1")},
		{name: "RS256 refused when only ES256 is listed", config: withAlgs("ES256"),
			kind: ErrVerify, reason: "alg_not_allowed", detail: `signed with "RS256"`},
		{name: "not a JWT", token: func(*testing.T, map[string]any) string { return "not-a-jwt" },
			kind: ErrVerify, reason: "malformed"},
		{name: "key not published by the provider",
			token: signedWith(jose.RS256, otherKey, "rsa1"),
			kind:  ErrVerify, reason: "signature"},

		// Issuer and audience.
		{name: "wrong issuer", claims: set("iss", "https://idp.example.net"),
			kind: ErrVerify, reason: "issuer_mismatch", detail: "idp.example.net"},
		{name: "wrong audience", claims: set("aud", "another-client"),
			kind: ErrVerify, reason: "audience"},
		{name: "extra audience not listed", claims: set("aud", []string{testClientID, "api"}),
			kind: ErrVerify, reason: "audience", detail: `"api"`},
		{name: "listed extra audience ok", claims: set("aud", []string{testClientID, "api"}),
			config: func(c *Config) { c.ExtraAudiences = []string{"api"} }},
		{name: "azp mismatch", claims: set("azp", "another-client"),
			kind: ErrVerify, reason: "azp_mismatch"},
		{name: "azp not a string", claims: set("azp", 7), kind: ErrVerify, reason: "azp_mismatch"},
		{name: "azp equal to the client id ok", claims: set("azp", testClientID)},
		{name: "sub missing", claims: drop("sub"), kind: ErrVerify, reason: "sub_missing"},

		// C13: times at the fixed clock 1700000000.
		{name: "C13 expired 10 s ago, within the default leeway",
			claims: set("exp", 1699999990)},
		{name: "C13 expired 10 s ago, beyond a 5 s leeway", claims: set("exp", 1699999990),
			config: func(c *Config) { c.Leeway = 5 * time.Second },
			kind:   ErrVerify, reason: "expired"},
		{name: "expired an hour ago", claims: set("exp", now-3600),
			kind: ErrVerify, reason: "expired"},
		{name: "exp missing", claims: drop("exp"), kind: ErrVerify, reason: "exp_missing"},
		{name: "exp as a string", claims: set("exp", "1700000600"),
			kind: ErrVerify, reason: "exp_invalid"},
		{name: "C13 nbf two minutes ahead accepted", claims: set("nbf", now+120)},
		{name: "nbf six minutes ahead refused", claims: set("nbf", now+360),
			kind: ErrVerify, reason: "nbf_future"},
		{name: "iat in the future within the leeway", claims: set("iat", now+30)},
		{name: "iat in the future beyond the leeway", claims: set("iat", now+120),
			kind: ErrVerify, reason: "iat_future"},

		// C14: each nonce failure has its own reason.
		{name: "C14 nonce missing", claims: drop("nonce"), kind: ErrNonce,
			reason: "nonce_missing"},
		{name: "C14 nonce null", claims: set("nonce", nil), kind: ErrNonce,
			reason: "nonce_null"},
		{name: "C14 nonce of another login", claims: set("nonce", "N2"), kind: ErrNonce,
			reason: "nonce_mismatch"},
		{name: "nonce not a string", claims: set("nonce", 42), kind: ErrNonce,
			reason: "nonce_type"},

		// C12: algorithms.
		{name: "alg none", token: func(t *testing.T, c map[string]any) string {
			return unsigned(t, c)
		}, kind: ErrVerify, reason: "alg_not_allowed", detail: "unsigned ID tokens"},
		{name: "alg none with HS256 listed", config: withAlgs("RS256", "HS256"),
			token: func(t *testing.T, c map[string]any) string { return unsigned(t, c) },
			kind:  ErrVerify, reason: "alg_not_allowed"},
		{name: "C12 HS256 with the client secret refused unless listed",
			token: signedWith(jose.HS256, []byte(testSecret), ""),
			kind:  ErrVerify, reason: "alg_not_allowed",
			detail: "configure the client at the IdP to sign ID tokens with RS256"},
		{name: "C12 HS256 with the client secret accepted when listed",
			config: withAlgs("RS256", "HS256"),
			token:  signedWith(jose.HS256, []byte(testSecret), "")},
		{name: "RS256 still verified with HS256 listed", config: withAlgs("RS256", "HS256")},
		{name: "C12 HS256 keyed with the RSA public key refused",
			token: func(t *testing.T, c map[string]any) string {
				return sign(t, jose.HS256, publicKeyPEM(t, rsaKey.Public()), "rsa1", c)
			}, kind: ErrVerify, reason: "alg_not_allowed"},
		{name: "C12 HS256 keyed with the RSA public key refused with HS256 listed",
			config: withAlgs("RS256", "HS256"),
			token: func(t *testing.T, c map[string]any) string {
				return sign(t, jose.HS256, publicKeyPEM(t, rsaKey.Public()), "rsa1", c)
			}, kind: ErrVerify, reason: "signature"},
		{name: "HS256 keyed with an oct key from the JWKS refused with HS256 listed",
			config: withAlgs("RS256", "HS256"),
			idp: func(idp *fakeIdP) {
				idp.extraJWKs = []jose.JSONWebKey{{Key: octSecret, KeyID: "oct1"}}
			},
			token: signedWith(jose.HS256, octSecret, "oct1"),
			kind:  ErrVerify, reason: "signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runTokenCase(t, tc) })
	}
}

func runTokenCase(t *testing.T, tc tokenCase) {
	idp := newFakeIdP(t)
	if tc.idp != nil {
		tc.idp(idp)
	}
	rp := idp.newRP(t, tc.config)
	claims := idp.claims()
	if tc.claims != nil {
		tc.claims(claims)
	}
	var raw string
	if tc.token != nil {
		raw = tc.token(t, claims)
	} else {
		raw = sign(t, jose.RS256, rsaKey, "rsa1", claims)
	}
	idp.setToken(raw)

	login, err := rp.Exchange(context.Background(), testCode, testVerifier, testNonce)
	if tc.kind == nil {
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		if login.RawIDToken != raw || login.Token == nil || login.Subject == "" {
			t.Errorf("login = %+v", login)
		}
		if tc.check != nil {
			tc.check(t, login)
		}
		return
	}
	var e *Error
	if !errors.Is(err, tc.kind) || !errors.As(err, &e) {
		t.Fatalf("Exchange = %v, want %v", err, tc.kind)
	}
	if e.Reason != tc.reason || !strings.Contains(e.Detail, tc.detail) {
		t.Errorf("reason %q detail %q, want %q containing %q", e.Reason, e.Detail,
			tc.reason, tc.detail)
	}
	if e.Message == "" || strings.Contains(err.Error(), raw) {
		t.Errorf("message %q, or the token leaked into %q", e.Message, err)
	}
	checkNoSecrets(t, err)
}

func TestLargeNumbersSurvive(t *testing.T) {
	idp := newFakeIdP(t)
	rp := idp.newRP(t, nil)
	claims := idp.claims()
	claims["employee_id"] = json.Number("12345678901234567890123")
	idp.setToken(sign(t, jose.RS256, rsaKey, "rsa1", claims))
	login, err := rp.Exchange(context.Background(), testCode, testVerifier, testNonce)
	if err != nil {
		t.Fatal(err)
	}
	if got := login.Claims["employee_id"]; got != json.Number("12345678901234567890123") {
		t.Fatalf("employee_id = %#v", got)
	}
}

func TestNumericDate(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want time.Time
		ok   bool
	}{
		{"integer", json.Number("1700000000"), time.Unix(1700000000, 0), true},
		{"fraction", json.Number("1700000000.5"), time.Unix(1700000000, 5e8), true},
		{"exponent", json.Number("1.7e9"), time.Unix(1700000000, 0), true},
		{"huge", json.Number("1e300"), time.Time{}, false},
		{"bool", true, time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, present, err := numericDate(map[string]any{"exp": tc.v}, "exp")
			if !present || (err == nil) != tc.ok || !got.Equal(tc.want) {
				t.Fatalf("numericDate = %v, %v, %v", got, present, err)
			}
		})
	}
}

// BenchmarkVerify measures the ID token checks alone, without the token request.
func BenchmarkVerify(b *testing.B) {
	idp := newFakeIdP(b)
	rp := idp.newRP(b, nil)
	raw := sign(b, jose.RS256, rsaKey, "rsa1", idp.claims())
	ctx := context.Background()
	if _, _, err := rp.verify(ctx, raw, testNonce); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := rp.verify(ctx, raw, testNonce); err != nil {
			b.Fatal(err)
		}
	}
}
