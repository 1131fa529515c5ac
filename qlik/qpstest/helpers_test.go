package qpstest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Module redirect URIs of the test proxies; nothing ever requests them.
const (
	moduleDefault = "https://bridge.localhost:8443/login"
	moduleBI      = "https://bridge.localhost:8443/qlik/login?src=qps"
)

// goodKey is a valid Xrfkey.
const goodKey = "abcdefghijKLMNOP"

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1700000000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a running node with a REST client that holds the genuine client certificate.
type env struct {
	s     *Server
	clock *clock
	rest  *http.Client
}

// testProxies are a default virtual proxy and one with the prefix "bi".
func testProxies() []VirtualProxy {
	return []VirtualProxy{
		{Prefix: "", AuthModuleRedirectURI: moduleDefault},
		{Prefix: "bi", AuthModuleRedirectURI: moduleBI},
	}
}

// start runs a node with cfg, filling in CertDir (without a Site), the proxies and the
// clock when unset.
func start(t *testing.T, cfg Config) *env {
	t.Helper()
	if cfg.CertDir == "" && cfg.Site == nil {
		cfg.CertDir = t.TempDir()
	}
	if cfg.VirtualProxies == nil {
		cfg.VirtualProxies = testProxies()
	}
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	certFile, keyFile, _ := s.CertFiles()
	return &env{s: s, clock: c, rest: restClient(t, s, certFile, keyFile)}
}

// restClient returns a client for the REST API that presents the given certificate ("" for
// none) and verifies the node as a careful module must: the chain against root.pem, then
// the host name against the SANs or, when there are none, the CN.
func restClient(t *testing.T, s *Server, certFile, keyFile string) *http.Client {
	t.Helper()
	_, _, rootFile := s.CertFiles()
	rootPEM, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("root.pem holds no certificate")
	}
	u, _ := url.Parse(s.RESTURL())
	cfg := &tls.Config{
		// Verification is not skipped: VerifyConnection below does it, because the node's
		// certificate may name the host only in its CN, which Go's own check ignores.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyNode(cs, roots, u.Hostname())
		},
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func verifyNode(cs tls.ConnectionState, roots *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no server certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}
	if len(leaf.DNSNames) > 0 || len(leaf.IPAddresses) > 0 {
		return leaf.VerifyHostname(host)
	}
	if leaf.Subject.CommonName != host {
		return fmt.Errorf("server certificate is for %q, not %q", leaf.Subject.CommonName, host)
	}
	return nil
}

// reply is a REST reply.
type reply struct {
	status int
	header http.Header
	body   string
}

// raw sends a REST call with the given query and header keys ("" leaves one out).
func (e *env) raw(t *testing.T, method, path, body, queryKey, headerKey string) reply {
	t.Helper()
	u := e.s.RESTURL() + path
	if queryKey != "" {
		u += "?xrfkey=" + url.QueryEscape(queryKey)
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if headerKey != "" {
		req.Header.Set("X-Qlik-Xrfkey", headerKey)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(t, e.rest, req)
}

// call sends a REST call with a valid Xrfkey.
func (e *env) call(t *testing.T, method, path, body string) reply {
	t.Helper()
	return e.raw(t, method, path, body, goodKey, goodKey)
}

func send(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// addSession adds a session through POST session and returns its id.
func (e *env) addSession(t *testing.T, prefix, dir, user string, attrs string) string {
	t.Helper()
	id := newID(t)
	body := fmt.Sprintf(`{"UserDirectory":%q,"UserId":%q,"Attributes":%s,"SessionId":%q}`,
		dir, user, attrs, id)
	r := e.call(t, http.MethodPost, restPath(prefix, "session"), body)
	if r.status != http.StatusCreated {
		t.Fatalf("POST session: %d %s", r.status, r.body)
	}
	return id
}

// ticket gets a ticket through POST ticket and returns the decoded reply.
func (e *env) ticket(t *testing.T, prefix, body string) map[string]any {
	t.Helper()
	r := e.call(t, http.MethodPost, restPath(prefix, "ticket"), body)
	if r.status != http.StatusCreated {
		t.Fatalf("POST ticket: %d %s", r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func restPath(prefix, call string) string {
	if prefix == "" {
		return "/qps/" + call
	}
	return "/qps/" + prefix + "/" + call
}

var idCounter struct {
	sync.Mutex
	n int
}

// newID returns a distinct session id in v4 UUID form.
func newID(t *testing.T) string {
	t.Helper()
	idCounter.Lock()
	defer idCounter.Unlock()
	idCounter.n++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", idCounter.n)
}

// keysOf returns the sorted top-level keys of a raw JSON object.
func keysOf(t *testing.T, raw string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// browser is a browser with a cookie jar that does not follow redirects.
type browser struct {
	c   *http.Client
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T, tlsCfg *tls.Config) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{jar: jar, c: &http.Client{
		Jar:       jar,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (b *browser) get(t *testing.T, rawURL string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, b.c, req)
}

// setCookie puts a cookie into the jar for the browser side, as a module would set it.
func (b *browser) setCookie(t *testing.T, base, name, value string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// visit adds a session and sets its cookie in a new browser, as the bridge does.
func (e *env) visit(t *testing.T, prefix, id string) reply {
	t.Helper()
	b := newBrowser(t, nil)
	b.setCookie(t, e.s.BrowserURL(), e.s.CookieName(prefix), id)
	path := "/hub/"
	if prefix != "" {
		path = "/" + prefix + "/hub/"
	}
	return b.get(t, e.s.BrowserURL()+path)
}
