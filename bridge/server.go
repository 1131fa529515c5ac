// Package bridge is the qlik-oidc-bridge web server: it logs browsers in at an OpenID
// Connect provider and opens their Qlik Sense proxy sessions.
package bridge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// Options are the parts of a Server that are not configuration. The zero value is the
// production setting.
type Options struct {
	// Logger receives one line per request and per login; nil logs JSON or text to stderr
	// as the configuration says.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of the login secrets (state id, nonce and PKCE verifier); nil
	// means crypto/rand. Sealing always uses crypto/rand.
	Rand io.Reader
	// IdPClient makes every call to the identity provider; nil builds one from the
	// configuration (its CA file, and the HTTP proxy from the environment).
	IdPClient *http.Client
	// Index remembers which Qlik sessions belong to which identity-provider session, for
	// back-channel logout; nil keeps them in memory, which serves one instance.
	Index SessionIndex
	// QlikTransport, when not nil, carries every QPS call instead of the mutual-TLS
	// transport built from the QMC certificates: for tests and benchmarks only.
	QlikTransport http.RoundTripper
}

// Server is the bridge. Build it with New.
type Server struct {
	cfg         *Config
	rp          *oidc.RelyingParty
	proxies     []*proxy
	targets     *targetPolicy
	seal        *sealer
	log         *slog.Logger
	now         func() time.Time
	rand        io.Reader
	echo        *echo.Echo
	index       SessionIndex
	issRequired bool // the provider's authorization responses carry iss (RFC 9207)
	secure      bool // the bridge is served over https
}

// proxy is a configured virtual proxy with its nodes.
type proxy struct {
	cfg        *VirtualProxyConfig
	nodes      []*qlik.Node
	mapping    *Mapping
	access     *Access
	cookieName string // as the browser stores it, with -HTTP over http
	secure     bool   // Qlik is reached over https
}

// New builds the bridge: it reads the QMC certificates, runs OIDC discovery and sets up the
// routes. It does not listen; see Serve.
func New(ctx context.Context, cfg *Config, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, log: opts.Logger, now: opts.Now, rand: opts.Rand, index: opts.Index}
	if s.log == nil {
		s.log = NewLogger(os.Stderr, cfg.Log)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.index == nil {
		s.index = &MemoryIndex{Now: s.now}
	}
	var err error
	if s.seal, err = newSealer(cfg.keys); err != nil {
		return nil, err
	}
	public := cfg.Server.public
	s.secure = public.Scheme == "https"
	s.targets = newTargetPolicy(&cfg.Qlik)

	if err := s.buildProxies(opts.QlikTransport); err != nil {
		return nil, err
	}

	if s.rp, err = s.relyingParty(ctx, opts.IdPClient); err != nil {
		return nil, err
	}
	s.issRequired = s.rp.ResponseIssuerRequired()
	if cfg.OIDC.Userinfo == UserinfoAlways && !s.rp.HasUserinfo() {
		return nil, errors.New("config: oidc.userinfo: always, but the provider's discovery " +
			"document names no userinfo_endpoint; use auto or never")
	}
	s.routes()
	return s, nil
}

// relyingParty runs OIDC discovery and returns the bridge's client at the provider; a nil
// idp builds the HTTP client from the configuration.
func (s *Server) relyingParty(ctx context.Context, idp *http.Client) (*oidc.RelyingParty, error) {
	cfg := s.cfg
	if idp == nil {
		var err error
		if idp, err = idpClient(&cfg.OIDC); err != nil {
			return nil, err
		}
	}
	return oidc.New(ctx, oidc.Config{
		Issuer:         cfg.OIDC.Issuer,
		ClientID:       cfg.OIDC.ClientID,
		ClientSecret:   string(cfg.OIDC.ClientSecret),
		RedirectURL:    cfg.Server.public.String() + "/callback",
		Scopes:         cfg.OIDC.Scopes,
		ExtraAudiences: cfg.OIDC.ExtraAudiences,
		SigningAlgs:    cfg.OIDC.SigningAlgs,
		AuthMethod:     cfg.OIDC.AuthMethod,
		ClientKey:      cfg.OIDC.clientKey,
		Tenants:        cfg.OIDC.Tenants,
		Leeway:         cfg.OIDC.Leeway,
		HTTPClient:     idp,
		Now:            s.now,
	})
}

func (s *Server) buildProxies(transport http.RoundTripper) error {
	q := &s.cfg.Qlik
	creds, err := qlik.LoadCredentials(qlik.CertFiles{
		ClientCert: q.Certificates.Client,
		ClientKey:  q.Certificates.ClientKey,
		RootCA:     q.Certificates.Root,
	})
	if err != nil {
		return err
	}
	for i := range q.VirtualProxies {
		vc := &q.VirtualProxies[i]
		p := &proxy{cfg: vc, mapping: vc.Mapping, access: vc.Access, cookieName: vc.CookieName}
		if p.mapping == nil {
			p.mapping = &s.cfg.Mapping
		}
		if p.access == nil {
			p.access = &s.cfg.Access
		}
		p.secure = vc.public.Scheme == "https"
		if !p.secure {
			p.cookieName += "-HTTP"
		}
		for _, nc := range vc.Nodes {
			n, err := qlik.NewNode(qlik.NodeConfig{
				URL: nc.URL, ServerName: nc.ServerName, Timeout: q.Timeout,
				Transport: transport,
			}, creds)
			if err != nil {
				return err
			}
			p.nodes = append(p.nodes, n)
		}
		s.proxies = append(s.proxies, p)
	}
	return nil
}

// idpClient returns the client for identity provider calls: the HTTP proxy from the
// environment applies, and a CA bundle, when configured, is added to the system roots.
func idpClient(c *OIDCConfig) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.ResponseHeaderTimeout = c.Timeout
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("config: oidc.ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: oidc.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		t.TLSClientConfig.RootCAs = pool
	}
	// No Client.Timeout, which costs a goroutine per request: the callback gives each
	// login's provider calls a deadline, and the transport bounds every wait for headers.
	return &http.Client{Transport: t}, nil
}

// Handler returns the bridge's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// proxyByPrefix returns the configured virtual proxy with that prefix, or nil.
func (s *Server) proxyByPrefix(prefix string) *proxy {
	for _, p := range s.proxies {
		if p.cfg.Prefix == prefix {
			return p
		}
	}
	return nil
}

// Serve listens on the configured address until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("bridge: listen: %w", err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		tlsc := &s.cfg.Server.TLS
		if tlsc.CertFile != "" {
			errc <- srv.ServeTLS(ln, tlsc.CertFile, tlsc.KeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String(), "public_url", s.cfg.Server.PublicURL)
	go s.checkNodes(ctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}

// checkNodes logs, at start, each proxy node that does not answer, so that a wrong URL or
// certificate shows before the first user tries to log in.
func (s *Server) checkNodes(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for _, p := range s.proxies {
		for _, n := range p.nodes {
			if err := n.Alive(ctx, ""); err != nil {
				s.log.Warn("qlik node does not answer; logins through it will fail",
					"proxy", p.cfg.Prefix, "node", n.URL().Host, "err", err)
			}
		}
	}
}

// NewLogger returns the structured logger the configuration asks for.
func NewLogger(w io.Writer, c LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
