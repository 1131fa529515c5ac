package bridge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

// BenchmarkLogin measures the bridge's own cost of one whole login: the start (state,
// flow cookie, redirect) and the callback (code exchange, RS256 verification, mapping, the
// QPS call, the cookie). The identity provider is an in-process fake that serves tokens
// signed ahead of time, so its signing stays out of the figure; the bridge is called
// in-process, without a socket.
//
// Signing ahead needs the nonces ahead: the bridge's random source is a seeded stream,
// replayed once to learn the nonces and once, timed, to log in.
//
// The "fake" runs answer QPS calls in-process too, so the figure is the bridge's own; the
// "simulator" runs go over real mutual TLS to the QPS simulator, whose work is counted.
// cpu-µs/op is the process's CPU time (user and system) per login, where it can be read.
func BenchmarkLogin(b *testing.B) {
	for _, qps := range []string{"fake", "simulator"} {
		for _, mode := range []string{"session", "ticket"} {
			b.Run(qps+"/"+mode, func(b *testing.B) { benchmarkLogin(b, mode, qps == "fake") })
		}
	}
}

func benchmarkLogin(b *testing.B, mode string, fakeQPS bool) {
	idp := newFakeIdP(b)
	qps, err := qpstest.Start(qpstest.Config{
		CertDir:        b.TempDir(),
		VirtualProxies: []qpstest.VirtualProxy{{Prefix: "bi"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer qps.Close()

	client, key, root := qps.CertFiles()
	cfg, err := bridge.Parse([]byte(fmt.Sprintf(`
server: {public_url: "https://login.example.com"}
oidc: {issuer: %q, client_id: bridge, client_secret: s, userinfo: never}
qlik:
  certificates: {client: %q, client_key: %q, root: %q}
  virtual_proxies:
    - prefix: bi
      public_url: https://qs.example.com/bi/
      mode: %s
      cookie_domain: example.com
      nodes: [{url: %q}]
mapping: {user_directory: BENCH, attributes: [{claim: email, attribute: email}]}
access: {any_authenticated_user: true}
cookie_keys: [%q]
`, idp.issuer, client, key, root, mode, qps.RESTURL(), testCookieKey)))
	if err != nil {
		b.Fatal(err)
	}
	stream := &seededReader{}
	opts := bridge.Options{
		Logger:    bridge.NewLogger(io.Discard, bridge.LogConfig{Level: "info"}),
		Rand:      stream,
		IdPClient: &http.Client{Transport: idp},
	}
	if fakeQPS {
		opts.QlikTransport = fakeQPSTransport{}
	}
	srv, err := bridge.New(context.Background(), cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()

	// Learn the nonces of b.N logins and sign their ID tokens.
	stream.reset()
	for i := 0; i < b.N; i++ {
		_, auth := start(b, h)
		idp.addToken(fmt.Sprintf("code%d", i), auth.Query().Get("nonce"))
	}
	stream.reset()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		cookie, auth := start(b, h)
		q := url.Values{"code": {fmt.Sprintf("code%d", i)}, "state": {auth.Query().Get("state")}}
		req := newRequest("/callback?" + q.Encode())
		req.Header.Set("Cookie", cookie.Name+"="+cookie.Value)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			b.Fatalf("callback: %d %s", rec.Code, rec.Body)
		}
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// fakeQPSTransport answers POST session and POST ticket in-process, as a QPS would.
type fakeQPSTransport struct{}

func (fakeQPSTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return nil, err
	}
	r.Body.Close()
	if strings.HasSuffix(r.URL.Path, "/ticket") {
		in["Ticket"] = "T0123456789abcdef"
	}
	body, _ := json.Marshal(in)
	return &http.Response{StatusCode: http.StatusCreated, Request: r,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(body))}, nil
}

// start runs GET /login and returns the flow cookie and the authorization URL.
func start(b *testing.B, h http.Handler) (*http.Cookie, *url.URL) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest("/login"))
	if rec.Code != http.StatusFound {
		b.Fatalf("login: %d", rec.Code)
	}
	auth, _ := url.Parse(rec.Header().Get("Location"))
	return rec.Result().Cookies()[0], auth
}

// newRequest is a GET of the bridge's pathAndQuery, built directly: httptest.NewRequest
// parses a request line through a 4 KB reader, which would weigh in the figure.
func newRequest(pathAndQuery string) *http.Request {
	u, _ := url.Parse("https://login.example.com" + pathAndQuery)
	return &http.Request{Method: "GET", URL: u, Host: u.Host, RequestURI: pathAndQuery,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		RemoteAddr: "192.0.2.1:1234"}
}

// seededReader is a repeatable random stream.
type seededReader struct{ r *mrand.ChaCha8 }

func (s *seededReader) reset()                     { s.r = mrand.NewChaCha8([32]byte{7}) }
func (s *seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

// fakeIdP is an in-process identity provider behind an http.RoundTripper: discovery, keys,
// and a token endpoint that answers each code with a token signed ahead of time.
type fakeIdP struct {
	issuer string
	signer jose.Signer
	jwks   []byte
	mu     sync.Mutex
	tokens map[string][]byte
}

func newFakeIdP(b *testing.B) *fakeIdP {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256,
		Key: jose.JSONWebKey{Key: k, KeyID: "k1"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &k.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	return &fakeIdP{issuer: "https://idp.example.com", signer: signer, jwks: jwks,
		tokens: map[string][]byte{}}
}

func (f *fakeIdP) addToken(code, nonce string) {
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{
		"iss": f.issuer, "aud": "bridge", "sub": "alice", "nonce": nonce,
		"iat": now, "exp": now + 3600, "email": "alice@example.com",
		"groups": []string{"Sales", "EMEA", "Qlik Users"},
	})
	jws, err := f.signer.Sign(claims)
	if err != nil {
		panic(err)
	}
	raw, _ := jws.CompactSerialize()
	body, _ := json.Marshal(map[string]any{"access_token": "at", "token_type": "Bearer",
		"expires_in": 300, "id_token": raw})
	f.mu.Lock()
	f.tokens[code] = body
	f.mu.Unlock()
}

func (f *fakeIdP) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		body, _ = json.Marshal(map[string]any{
			"issuer": f.issuer, "authorization_endpoint": f.issuer + "/authorize",
			"token_endpoint": f.issuer + "/token", "jwks_uri": f.issuer + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	case "/keys":
		body = f.jwks
	case "/token":
		_ = r.ParseForm()
		f.mu.Lock()
		body = f.tokens[r.PostForm.Get("code")]
		f.mu.Unlock()
	}
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Request: r,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(body))}, nil
}
