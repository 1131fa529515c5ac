package e2eutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long StartOIDCProvider waits for the provider to listen.
const StartTimeout = 60 * time.Second // Node starts slowly beside a -race build

// Client is an OAuth client registered at the provider, in oidc-provider's client metadata.
// The zero value is a client without an id, which the provider refuses to start with.
type Client struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"client_secret,omitempty"`
	RedirectURIs []string `json:"redirect_uris"`
	// TokenEndpointAuthMethod is how the client authenticates at the token endpoint;
	// empty means client_secret_basic.
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	// BackchannelLogoutURI receives logout tokens; empty means none are sent.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// GrantTypes empty means authorization_code only.
	GrantTypes []string `json:"grant_types,omitempty"`
	// ResponseTypes empty means code only.
	ResponseTypes []string `json:"response_types,omitempty"`
}

// User is an account at the provider. The zero value is a user nobody can sign in as.
type User struct {
	// AccountID is the subject (sub); empty means the username.
	AccountID string `json:"accountId,omitempty"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	// Claims are released by scope: profile gives name and preferred_username, email gives
	// email and email_verified, groups gives groups (see Options.Scopes for more). They go
	// into both the ID token and userinfo.
	Claims map[string]any `json:"claims,omitempty"`
}

// Options configures StartOIDCProvider. The zero value starts a provider with no clients
// and no users.
type Options struct {
	Clients []Client
	Users   []User
	// Scopes adds scopes, each with the claims it releases, to the built-in openid,
	// profile, email and groups; nil adds none.
	Scopes map[string][]string
}

// settings is the JSON file server.mjs reads.
type settings struct {
	Clients []Client            `json:"clients"`
	Users   []User              `json:"users"`
	Scopes  map[string][]string `json:"scopes,omitempty"`
}

// OP is a running oidc-provider, stopped when its test ends.
type OP struct {
	// Issuer is https://localhost:PORT.
	Issuer string
	// CAFile is the PEM file of the CA that signed the provider's certificate.
	CAFile string
	// CA is that CA's certificate.
	CA *x509.Certificate
	// Client trusts only CA, uses no proxy and keeps no cookies.
	Client *http.Client

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	exited chan struct{}
}

// Stderr returns what the provider has written to its standard error so far.
func (op *OP) Stderr() string { return op.stderr.String() }

// StartOIDCProvider runs e2e/op/server.mjs with opts on a free loopback port over HTTPS
// with a freshly generated CA, waits until it listens, and stops it when t ends. Its
// standard error is logged if t fails.
func StartOIDCProvider(t testing.TB, opts Options) *OP {
	t.Helper()
	dir := t.TempDir()
	files, err := writeProviderFiles(dir, opts)
	if err != nil {
		t.Fatal(err)
	}

	var op *OP
	for attempt := 1; ; attempt++ {
		op, err = startProvider(files)
		// Another process may take the free port before the provider binds it.
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "EADDRINUSE") {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("oidc-provider at %s, stderr:\n%s", op.Issuer, op.Stderr())
		}
	})
	t.Cleanup(op.stop)
	return op
}

// providerFiles are the paths server.mjs reads.
type providerFiles struct {
	ca       *x509.Certificate
	caFile   string
	chain    string
	key      string
	settings string
}

// writeProviderFiles writes the certificates, the key and the settings into dir.
func writeProviderFiles(dir string, opts Options) (*providerFiles, error) {
	certs, err := newServerCerts(time.Now())
	if err != nil {
		return nil, err
	}
	s := settings{Clients: opts.Clients, Users: opts.Users, Scopes: opts.Scopes}
	if s.Clients == nil {
		s.Clients = []Client{}
	}
	if s.Users == nil {
		s.Users = []User{}
	}
	js, err := json.Marshal(s)
	if err != nil {
		return nil, errorf("encoding the provider settings: %w", err)
	}

	f := &providerFiles{
		ca:       certs.ca,
		caFile:   filepath.Join(dir, "ca.pem"),
		chain:    filepath.Join(dir, "server-chain.pem"),
		key:      filepath.Join(dir, "server-key.pem"),
		settings: filepath.Join(dir, "settings.json"),
	}
	for path, data := range map[string][]byte{
		f.caFile: certs.caPEM, f.chain: certs.chainPEM, f.key: certs.keyPEM, f.settings: js,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, errorf("writing %s: %w", filepath.Base(path), err)
		}
	}
	return f, nil
}

// startProvider starts server.mjs on a free port and waits for its READY line.
func startProvider(f *providerFiles) (*OP, error) {
	dir, err := opDir()
	if err != nil {
		return nil, err
	}
	if err := checkProviderPackages(); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	issuer := "https://localhost:" + strconv.Itoa(port)

	cmd := exec.Command("node", filepath.Join(dir, "server.mjs"),
		"--port", strconv.Itoa(port), "--issuer", issuer,
		"--cert", f.chain, "--key", f.key, "--settings", f.settings, "--watch-stdin")
	cmd.Dir = dir
	ready := newReadyWriter()
	op := &OP{
		Issuer: issuer,
		CAFile: f.caFile,
		CA:     f.ca,
		Client: trustingClient(f.ca),
		cmd:    cmd,
		stderr: &syncBuffer{},
		exited: make(chan struct{}),
	}
	cmd.Stdout = ready
	cmd.Stderr = op.stderr
	cmd.WaitDelay = 2 * time.Second
	// The provider exits when this pipe closes, also if the test binary dies.
	if op.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, errorf("starting oidc-provider: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, errorf("starting oidc-provider: %w", err)
	}
	go func() {
		_ = cmd.Wait()
		close(op.exited)
	}()

	if err := op.waitReady(ready); err != nil {
		op.stop()
		return nil, err
	}
	return op, nil
}

// waitReady waits for the READY line, the provider's exit or StartTimeout.
func (op *OP) waitReady(ready *readyWriter) error {
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case line := <-ready.lines:
		if line != "READY "+op.Issuer {
			return errorf("oidc-provider announced %q, want READY %s", line, op.Issuer)
		}
		return nil
	case <-op.exited:
		return errorf("oidc-provider exited before it was ready (%v); stderr:\n%s",
			op.cmd.ProcessState, op.Stderr())
	case <-timer.C:
		return errorf("oidc-provider not ready after %v; stderr:\n%s",
			StartTimeout, op.Stderr())
	}
}

// stop ends the provider with SIGTERM, or kills it if it lingers.
func (op *OP) stop() {
	op.Client.CloseIdleConnections()
	defer op.stdin.Close()
	select {
	case <-op.exited:
		return
	default:
	}
	_ = op.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-op.exited:
	case <-timer.C:
		_ = op.cmd.Process.Kill()
		<-op.exited
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// trustingClient returns an HTTP client that trusts only ca and uses no proxy.
func trustingClient(ca *x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// readyWriter passes the first complete line that starts with "READY " to lines.
type readyWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func newReadyWriter() *readyWriter {
	return &readyWriter{lines: make(chan string, 1)}
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimSpace(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
		if !strings.HasPrefix(line, "READY ") {
			continue
		}
		select {
		case w.lines <- line:
		default:
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
