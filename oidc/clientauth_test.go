package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// assertionIdP is a provider whose token endpoint accepts only private_key_jwt: it
// verifies the client assertion against the registered public key, as RFC 7523 asks.
type assertionIdP struct {
	srv        *httptest.Server
	registered crypto.PublicKey // the client's key, as registered at the provider
	wantHeader map[string]string

	mu      sync.Mutex
	jtis    map[string]bool
	refusal string // why the last assertion was refused
}

func newAssertionIdP(t *testing.T, registered crypto.PublicKey, header map[string]string) *assertionIdP {
	testKeys(t)
	a := &assertionIdP{registered: registered, wantHeader: header, jtis: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		base := a.srv.URL
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": base, "authorization_endpoint": base + "/authorize",
			"token_endpoint": base + "/token", "jwks_uri": base + "/keys",
			"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: rsaKey.Public(), KeyID: "rsa1", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", a.token(t))
	a.srv = httptest.NewUnstartedServer(mux)
	a.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	return a
}

func (a *assertionIdP) token(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := a.check(r); err != nil {
			a.mu.Lock()
			a.refusal = err.Error()
			a.mu.Unlock()
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		claims := map[string]any{"iss": a.srv.URL, "sub": "alice", "aud": testClientID,
			"exp": testNow.Unix() + 600, "iat": testNow.Unix(), "nonce": testNonce}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer",
			"id_token": sign(t, jose.RS256, rsaKey, "rsa1", claims)})
	}
}

// check verifies the client authentication of a token request.
func (a *assertionIdP) check(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	f := r.PostForm
	switch {
	case r.Header.Get("Authorization") != "" || f.Has("client_secret"):
		return errors.New("a secret was sent")
	case f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
		return errors.New("wrong client_assertion_type")
	case f.Get("client_id") != testClientID:
		return errors.New("wrong client_id")
	}
	jws, err := jose.ParseSigned(f.Get("client_assertion"),
		[]jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.ES384})
	if err != nil {
		return err
	}
	payload, err := jws.Verify(a.registered)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	h := jws.Signatures[0].Protected
	for k, v := range a.wantHeader {
		if got := fmt.Sprint(h.ExtraHeaders[jose.HeaderKey(k)]); k == "kid" && h.KeyID != v ||
			k != "kid" && got != v {
			return fmt.Errorf("header %s: got %q/%q, want %q", k, h.KeyID, got, v)
		}
	}
	return a.checkClaims(payload)
}

func (a *assertionIdP) checkClaims(payload []byte) error {
	var c struct {
		Iss, Sub, Aud, Jti string
		Exp, Iat           int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	now := testNow.Unix()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case c.Iss != testClientID || c.Sub != testClientID:
		return errors.New("iss and sub must be the client id")
	case c.Aud != a.srv.URL+"/token":
		return fmt.Errorf("aud %q is not the token endpoint", c.Aud)
	case c.Exp <= now || c.Exp > now+600 || c.Iat > now:
		return errors.New("times")
	case c.Jti == "" || a.jtis[c.Jti]:
		return errors.New("jti missing or replayed")
	}
	a.jtis[c.Jti] = true
	return nil
}

func (a *assertionIdP) newRP(t *testing.T, key *ClientKey) *RelyingParty {
	t.Helper()
	rp, err := New(context.Background(), Config{
		Issuer: a.srv.URL, ClientID: testClientID, RedirectURL: testRedirect,
		AuthMethod: AuthMethodPrivateKeyJWT, ClientKey: key,
		HTTPClient: a.srv.Client(), Now: fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func pemOf(t testing.TB, typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, key any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PRIVATE KEY", der)
}

func selfSigned(t testing.TB, key crypto.Signer) *x509.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "qlik-bridge"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestPrivateKeyJWT(t *testing.T) {
	testKeys(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, ec)
	sum := sha1.Sum(cert.Raw)
	ecPEM, _ := x509.MarshalECPrivateKey(ec)
	thumb, _ := (&jose.JSONWebKey{Key: rsaKey.Public()}).Thumbprint(crypto.SHA256)

	for _, tc := range []struct {
		name       string
		pem        []byte
		keyID      string
		registered crypto.PublicKey
		header     map[string]string
	}{
		{"RSA, kid from the JWK thumbprint", pkcs8(t, rsaKey), "", rsaKey.Public(),
			map[string]string{"kid": base64.RawURLEncoding.EncodeToString(thumb)}},
		{"RSA PKCS #1, configured kid",
			pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "key-2024",
			rsaKey.Public(), map[string]string{"kid": "key-2024"}},
		{"EC with its certificate, as Entra ID wants",
			append(pemOf(t, "EC PRIVATE KEY", ecPEM), pemOf(t, "CERTIFICATE", cert.Raw)...), "",
			ec.Public(), map[string]string{"x5t": base64.RawURLEncoding.EncodeToString(sum[:])}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParseClientKey(tc.pem, tc.keyID)
			if err != nil {
				t.Fatal(err)
			}
			idp := newAssertionIdP(t, tc.registered, tc.header)
			rp := idp.newRP(t, key)
			if rp.AuthMethod() != AuthMethodPrivateKeyJWT {
				t.Fatalf("auth method %q", rp.AuthMethod())
			}
			for i := 0; i < 2; i++ { // each exchange carries a fresh jti
				if _, err := rp.Exchange(context.Background(), testCode, testVerifier,
					testNonce); err != nil {
					t.Fatalf("exchange %d: %v (provider: %s)", i, err, idp.refusal)
				}
			}
		})
	}
}

// A key the provider does not know is refused by the provider, and reported as such.
func TestPrivateKeyJWTUnknownKey(t *testing.T) {
	testKeys(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseClientKey(pkcs8(t, other), "")
	if err != nil {
		t.Fatal(err)
	}
	idp := newAssertionIdP(t, rsaKey.Public(), nil)
	_, err = idp.newRP(t, key).Exchange(context.Background(), testCode, testVerifier, testNonce)
	var e *Error
	if !errors.Is(err, ErrProvider) || !errors.As(err, &e) || e.Reason != "invalid_client" {
		t.Fatalf("Exchange = %v", err)
	}
}

func TestParseClientKey(t *testing.T) {
	testKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	foreign := pemOf(t, "CERTIFICATE", selfSigned(t, ec).Raw)
	for _, tc := range []struct {
		name, want string
		pem        []byte
	}{
		{"empty", "no PEM private key", nil},
		{"certificate only", "no PEM private key", foreign},
		{"two keys", "more than one private key", append(pkcs8(t, rsaKey), pkcs8(t, ec)...)},
		{"small RSA", "at least 2048 bits", pkcs8(t, small)},
		{"P-521", "P-256 or P-384", pkcs8(t, p521)},
		{"Ed25519", "is not supported", pkcs8(t, edKey)},
		{"certificate of another key", "not the private key's", append(pkcs8(t, rsaKey), foreign...)},
		{"garbage in a key block", "client key", pemOf(t, "PRIVATE KEY", []byte("garbage"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseClientKey(tc.pem, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestClientAuthConfig(t *testing.T) {
	testKeys(t)
	key, err := ParseClientKey(pkcs8(t, rsaKey), "")
	if err != nil {
		t.Fatal(err)
	}
	base := Config{Issuer: "https://idp.example.com", ClientID: "c",
		RedirectURL: "https://bridge.example.com/callback"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"private_key_jwt needs no secret", func(c *Config) {
			c.AuthMethod, c.ClientKey = AuthMethodPrivateKeyJWT, key
		}, ""},
		{"private_key_jwt needs a key", func(c *Config) { c.AuthMethod = AuthMethodPrivateKeyJWT },
			"private_key_jwt signs with ClientKey"},
		{"a key with a secret method", func(c *Config) {
			c.ClientSecret, c.ClientKey = "s", key
		}, "ClientKey is used only with AuthMethod private_key_jwt"},
		{"HS256 without a secret", func(c *Config) {
			c.AuthMethod, c.ClientKey = AuthMethodPrivateKeyJWT, key
			c.SigningAlgs = []string{"HS256"}
		}, "HS256 needs a client secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			_, err := cfg.validate()
			if tc.want == "" && err != nil || tc.want != "" &&
				(!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("validate = %v, want %q", err, tc.want)
			}
		})
	}
}
