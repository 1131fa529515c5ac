package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Fixed values shared by the tests.
const (
	testClientID = "qlik-bridge"
	testSecret   = "s3cret-0123456789-abcdefghijklmnop" // 34 bytes, enough for HS256
	testNonce    = "N1-nonce-value"
	testCode     = "code-0123456789"
	testVerifier = "verifier-0123456789-0123456789-0123456789-01"
	testRedirect = "https://bridge.example.com/callback"
)

// testNow is the fixed clock of the field cases: 1700000000.
var testNow = time.Unix(1700000000, 0)

func fixedNow() time.Time { return testNow }

// Keys are generated once per test binary; each fake provider publishes all of them.
var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

// tokenRequest is what the fake provider saw at its token endpoint.
type tokenRequest struct {
	header http.Header
	form   url.Values
}

// fakeIdP is a minimal OpenID provider over TLS: discovery, JWKS, a token endpoint that
// records each request and answers with a pre-built reply, and userinfo.
type fakeIdP struct {
	srv *httptest.Server

	// Set before New runs (read by the discovery handler).
	issuer      string   // the issuer discovery announces; "" means the server URL
	authMethods []string // token_endpoint_auth_methods_supported; nil leaves it out
	noUserinfo  bool
	extraJWKs   []jose.JSONWebKey

	mu       sync.Mutex
	idToken  string // id_token in the token reply
	tokenErr string // when set, the token endpoint answers 400 with this error code
	userinfo map[string]any
	requests []tokenRequest
}

func newFakeIdP(t testing.TB) *fakeIdP {
	t.Helper()
	testKeys(t)
	f := &fakeIdP{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /keys", f.keys)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /userinfo", f.userinfoHandler)
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) discovery(w http.ResponseWriter, r *http.Request) {
	base := f.srv.URL
	doc := map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "/authorize",
		"token_endpoint":                        base + "/token",
		"jwks_uri":                              base + "/keys",
		"end_session_endpoint":                  base + "/logout",
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "PS256"},
	}
	if f.issuer != "" {
		doc["issuer"] = f.issuer
	}
	if !f.noUserinfo {
		doc["userinfo_endpoint"] = base + "/userinfo"
	}
	if f.authMethods != nil {
		doc["token_endpoint_auth_methods_supported"] = f.authMethods
	}
	writeJSON(w, http.StatusOK, doc)
}

func (f *fakeIdP) keys(w http.ResponseWriter, r *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: rsaKey.Public(), KeyID: "rsa1", Use: "sig"},
		{Key: ecKey.Public(), KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
	}}
	set.Keys = append(set.Keys, f.extraJWKs...)
	writeJSON(w, http.StatusOK, set)
}

func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	if len(f.requests) < 10 { // enough for any test; a benchmark must not grow it
		f.requests = append(f.requests, tokenRequest{header: r.Header.Clone(), form: r.PostForm})
	}
	idToken, tokenErr := f.idToken, f.tokenErr
	f.mu.Unlock()

	if tokenErr != "" {
		status := http.StatusBadRequest
		if tokenErr == "invalid_client" {
			status = http.StatusUnauthorized
		}
		writeJSON(w, status, map[string]string{
			"error": tokenErr, "error_description": "code " + r.PostForm.Get("code") + " refused",
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": "access-token-value",
		"token_type":   "Bearer",
		"expires_in":   300,
		"id_token":     idToken,
	})
}

func (f *fakeIdP) userinfoHandler(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer access-token-value" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.userinfo)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// setToken sets the id_token the token endpoint hands out next.
func (f *fakeIdP) setToken(raw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idToken = raw
}

func (f *fakeIdP) tokenRequests() []tokenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tokenRequest(nil), f.requests...)
}

// config returns a Config for this provider, trusting its test certificate.
func (f *fakeIdP) config() Config {
	return Config{
		Issuer:       f.srv.URL,
		ClientID:     testClientID,
		ClientSecret: testSecret,
		RedirectURL:  testRedirect,
		HTTPClient:   f.srv.Client(),
		Now:          fixedNow,
	}
}

func (f *fakeIdP) newRP(t testing.TB, edit func(*Config)) *RelyingParty {
	t.Helper()
	cfg := f.config()
	if edit != nil {
		edit(&cfg)
	}
	rp, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rp
}

// claims returns valid ID token claims for this provider at testNow.
func (f *fakeIdP) claims() map[string]any {
	return map[string]any{
		"iss":   f.srv.URL,
		"sub":   "alice",
		"aud":   testClientID,
		"exp":   testNow.Unix() + 600,
		"iat":   testNow.Unix(),
		"nonce": testNonce,
	}
}

// sign returns a compact JWT of claims signed with alg and key, with kid when not empty.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string,
	claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("claims: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return raw
}

// unsigned returns a JWT with alg "none" and an empty signature.
func unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("claims: %v", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		enc.EncodeToString(payload) + "."
}

// publicKeyPEM returns the RSA public key as PEM, the secret of an alg confusion attack.
func publicKeyPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
