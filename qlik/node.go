package qlik

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// NodeConfig describes one proxy node. The zero value has no URL and is refused by NewNode.
type NodeConfig struct {
	// URL is the node's REST base, https://host:4243, with no path: the virtual proxy prefix is
	// given per call. The scheme must be https.
	URL string
	// ServerName is the name the node's certificate must hold, in its DNS or IP subject
	// alternative names or, when it has none, in its subject CN; "" means the host of URL.
	// The certificate is always verified against root.pem: there is no setting to skip it.
	ServerName string
	// Timeout bounds each call, connecting included; zero means 10 seconds, negative is refused.
	Timeout time.Duration
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
	// Transport, when not nil, carries every call instead of the mutual-TLS transport built
	// from the credentials: for tests and benchmarks that answer in-process. Nil is the
	// production setting.
	Transport http.RoundTripper
}

// Node is a client for the QPS REST API of one proxy node. It keeps its connections alive and
// is safe for concurrent use. The zero value has no connection and must not be used; use
// NewNode.
type Node struct {
	base      *url.URL
	creds     *Credentials
	transport *http.Transport
	client    *http.Client
	timeout   time.Duration
}

const (
	defaultTimeout = 10 * time.Second
	maxReply       = 1 << 20  // bytes of a successful reply read at most
	maxErrorRead   = 4 << 10  // bytes of an error answer read at most
	maxDrain       = 64 << 10 // bytes of an error answer skipped at most to reuse the conn
)

// ErrInvalidPrefix is wrapped by the errors for a virtual proxy prefix that is refused.
var ErrInvalidPrefix = errors.New("qlik: invalid virtual proxy prefix")

// ErrInvalidID is wrapped by the errors for a session id or target id that is refused.
var ErrInvalidID = errors.New("qlik: invalid id")

// NewNode checks cfg and returns a client for the node that uses creds for mutual TLS.
func NewNode(cfg NodeConfig, creds *Credentials) (*Node, error) {
	if creds == nil || creds.roots == nil {
		return nil, errors.New("qlik: no credentials; use LoadCredentials")
	}
	base, err := parseBase(cfg.URL)
	if err != nil {
		return nil, err
	}
	name := cfg.ServerName
	if name == "" {
		name = base.Hostname()
	}
	timeout := cfg.Timeout
	if timeout < 0 {
		return nil, fmt.Errorf("qlik: negative timeout %v", timeout)
	}
	if timeout == 0 {
		timeout = defaultTimeout
	}
	t := &http.Transport{
		Proxy:               nil, // never an HTTP proxy from the environment
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		TLSClientConfig:     creds.tlsConfig(name, cfg.Now),
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     60 * time.Second,
	}
	return &Node{
		base:      base,
		creds:     creds,
		transport: t,
		timeout:   timeout,
		// The timeout is a context deadline per call (see do): http.Client.Timeout would
		// start a goroutine per request.
		client: &http.Client{Transport: roundTripper(cfg.Transport, t),
			// The QPS does not redirect; a redirect is an error, never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}},
	}, nil
}

func roundTripper(given http.RoundTripper, built *http.Transport) http.RoundTripper {
	if given != nil {
		return given
	}
	return built
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("qlik: node URL: %w", err)
	}
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("qlik: node URL %q: the scheme must be https", raw)
	case u.Hostname() == "":
		return nil, fmt.Errorf("qlik: node URL %q: no host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return nil, fmt.Errorf("qlik: node URL %q: only scheme, host and port are allowed", raw)
	case u.Path != "" && u.Path != "/":
		return nil, fmt.Errorf("qlik: node URL %q: no path is allowed; "+
			"the virtual proxy prefix is given per call", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// URL returns a copy of the node's base URL.
func (n *Node) URL() *url.URL {
	u := *n.base
	return &u
}

// CloseIdleConnections closes the node's kept-alive connections that are not in use.
func (n *Node) CloseIdleConnections() { n.transport.CloseIdleConnections() }

// call is one QPS request.
type call struct {
	op     string
	method string
	prefix string   // virtual proxy prefix; "" is the default virtual proxy
	path   []string // segments after /qps/<prefix>/, escaped when sent
	secret string   // a session id among the segments: kept out of errors
	body   any      // sent as JSON when not nil
	ok     []int    // statuses that succeed
}

// do sends c with a fresh Xrfkey and returns the status and body of a successful answer.
func (n *Node) do(ctx context.Context, c call) (int, []byte, error) {
	if err := checkPrefix(c.prefix); err != nil {
		return 0, nil, err
	}
	for _, seg := range c.path {
		if seg == "." || seg == ".." {
			return 0, nil, fmt.Errorf("%w: a path segment may not be %q", ErrInvalidID, seg)
		}
	}
	u, shown := n.endpoint(c)
	body := io.Reader(http.NoBody)
	if c.body != nil {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.body); err != nil {
			return 0, nil, fmt.Errorf("qlik: %s: encode request: %w", c.op, err)
		}
		body = &b
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	key := NewXrfkey()
	u.RawQuery = "xrfkey=" + key
	req, err := http.NewRequestWithContext(ctx, c.method, u.String(), body)
	if err != nil {
		return 0, nil, fmt.Errorf("qlik: %s %s: %w", c.op, shown, err)
	}
	req.Header.Set("X-Qlik-Xrfkey", key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := n.client.Do(req)
	if err != nil {
		return 0, nil, n.transportError(c.op, shown, err)
	}
	defer resp.Body.Close()

	if !slices.Contains(c.ok, resp.StatusCode) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorRead))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		return resp.StatusCode, nil, statusError(c.op, shown, resp.StatusCode, b, key, c.secret)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return 0, nil, fmt.Errorf("qlik: %s %s: read reply: %w", c.op, shown, err)
	}
	if len(b) > maxReply {
		return 0, nil, fmt.Errorf("qlik: %s %s: reply larger than %d bytes", c.op, shown, maxReply)
	}
	return resp.StatusCode, b, nil
}

// endpoint returns the URL of c without the query, and the same URL as shown in errors.
func (n *Node) endpoint(c call) (*url.URL, string) {
	var p, shown strings.Builder
	p.WriteString("/qps/")
	if c.prefix != "" {
		p.WriteString(c.prefix + "/")
	}
	shown.WriteString(n.base.String() + p.String())
	for i, seg := range c.path {
		esc := url.PathEscape(seg)
		if i > 0 {
			p.WriteByte('/')
			shown.WriteByte('/')
		}
		p.WriteString(esc)
		if c.secret != "" && seg == c.secret {
			esc = "{sessionId}"
		}
		shown.WriteString(esc)
	}
	u := *n.base
	u.RawPath = p.String()
	u.Path, _ = url.PathUnescape(u.RawPath) // cannot fail: every segment was escaped
	return &u, shown.String()
}

// checkPrefix refuses a virtual proxy prefix that is not lowercase letters, digits, '-', '_'
// and '.', so that an odd prefix fails here instead of at the node.
func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	if strings.ToLower(p) != p {
		return fmt.Errorf("%w %q: prefixes are lowercase, use %q", ErrInvalidPrefix, p,
			strings.ToLower(p))
	}
	for _, r := range p {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%w %q: use only a-z, 0-9, '-', '_' and '.', without slashes",
				ErrInvalidPrefix, p)
		}
	}
	if strings.Trim(p, ".") == "" {
		return fmt.Errorf("%w %q: a prefix cannot be only dots", ErrInvalidPrefix, p)
	}
	return nil
}

// checkID refuses an id that is empty or holds a backslash or a control character. The error
// names what the id is but never its value.
func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: the %s is empty", ErrInvalidID, what)
	case strings.Contains(id, `\`):
		return fmt.Errorf("%w: the %s contains a backslash", ErrInvalidID, what)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: the %s contains a control character", ErrInvalidID, what)
	}
	return nil
}
