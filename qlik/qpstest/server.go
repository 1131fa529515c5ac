package qpstest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Defaults that Start fills in for zero fields.
const (
	DefaultHostname           = "localhost"
	DefaultSessionTimeout     = 30 * time.Minute
	DefaultMaxSessionsPerUser = 5
	DefaultMaxHeaderBytes     = 16384
	DefaultCookieName         = "X-Qlik-Session"
)

// VirtualProxy is one virtual proxy of the simulated node.
type VirtualProxy struct {
	// Prefix is the path segment that selects the virtual proxy: lowercase letters, digits,
	// '-', '_' and '.'. "" is the default virtual proxy, reached without a prefix.
	Prefix string
	// CookieName is the session cookie header name. "" means "X-Qlik-Session" for the default
	// proxy and "X-Qlik-Session-<prefix>" otherwise. Over plain http the browser side reads
	// it with "-HTTP" appended, as Qlik does since February 2019.
	CookieName string
	// CookieDomain is the Domain of the cookie set at ticket redemption; "" means host only.
	CookieDomain string
	// AuthModuleRedirectURI is where a browser without a session is sent, with proxyRestUri
	// and targetId appended. "" means such a browser gets a 500 page; see
	// Server.SetAuthModuleRedirectURI to set it once the module listens.
	AuthModuleRedirectURI string
	// SessionTimeout is the inactivity timeout of its sessions; zero means 30 minutes.
	SessionTimeout time.Duration
	// LogoutRedirectURI is where the simulated hub's logout button sends the browser (303)
	// after ending the session, unchanged. "" means the node shows its own "logged out"
	// page instead. See Server.SetLogoutRedirectURI to set it once the target listens.
	LogoutRedirectURI string
}

// Config configures a simulated proxy node. VirtualProxies is required, and CertDir unless
// Site is set.
type Config struct {
	// Hostname is the node's host name: the REST server certificate is CN=<Hostname>, signed
	// by the site's CA (CN=<Hostname>-CA without a Site), and RESTURL and ProxyRestURI use
	// it. "" means "localhost", also with a Site.
	Hostname string
	// ServerCertSAN also puts Hostname into a subject alternative name of the REST server
	// certificate. False gives a CN-only certificate, the strict case: Go's standard
	// verification then fails, and a client must check the CN itself.
	ServerCertSAN bool
	// CertDir is where client.pem, client_key.pem (mode 0600) and root.pem are written;
	// it is created if missing. Required unless Site is set; with Site it must be "" or
	// the site's own directory, since a node of a site has no files of its own.
	CertDir string
	// Site makes the node one of several of a site: its certificates come from the site's
	// CA and CertFiles returns the site's files. Sessions, tickets and target ids stay in
	// each node's own memory. nil means the node is a site of its own, with a new CA
	// named after Hostname and files written into CertDir.
	Site *Site
	// RESTAddr is the listen address of the REST API; "" means "127.0.0.1:0".
	RESTAddr string
	// BrowserAddr is the listen address of the browser side; "" means "127.0.0.1:0".
	BrowserAddr string
	// BrowserHost is the host name browsers use for the browser side; "" means "127.0.0.1".
	BrowserHost string
	// BrowserTLS serves the browser side over https with a certificate for BrowserHost
	// signed by the same CA. False serves plain http, and cookie names get "-HTTP".
	BrowserTLS bool
	// VirtualProxies lists the node's virtual proxies; at least one is required. Prefixes and
	// cookie names must be unique.
	VirtualProxies []VirtualProxy
	// MaxSessionsPerUser is how many admitted sessions a user may hold on the node, counted
	// across virtual proxies; zero means 5.
	MaxSessionsPerUser int
	// MaxHeaderBytes is the budget of the X-Qlik-Security header line that carries the
	// attributes (see SecurityHeaderSize); zero means 16384.
	MaxHeaderBytes int
	// Now is the clock for tickets and session timeouts; nil means time.Now. Certificates
	// always use the real clock.
	Now func() time.Time
}

// Server is a running simulated proxy node. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	proxies  map[string]*proxy
	st       *store
	site     *Site
	restURL  string
	browsURL string

	restSrv, browsSrv *http.Server
	restLn, browsLn   net.Listener
	closeOnce         sync.Once

	mu        sync.Mutex
	moduleURI map[string]string
	logoutURI map[string]string
}

// proxy is a virtual proxy with its defaults filled in.
type proxy struct {
	VirtualProxy
	cookie string // the name the browser side reads, "-HTTP" included
}

// prefixPattern is the shape of a virtual proxy prefix the simulator accepts.
var prefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// reservedPrefixes would make REST paths ambiguous: /qps/<call> is the default proxy.
var reservedPrefixes = map[string]bool{
	"session": true, "user": true, "ticket": true, "alive": true, "error": true,
	"qps": true, "about": true, "health": true,
}

// Start validates cfg, fills its defaults, writes the certificate files (or takes those of
// cfg.Site) and starts both listeners. Close stops them.
func Start(cfg Config) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	if s.site == nil {
		if s.site, err = NewSite(s.cfg.CertDir, s.cfg.Hostname); err != nil {
			return nil, err
		}
	}
	if err := s.listen(s.site.ca); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// newServer checks the configuration and builds a server that does not listen yet.
func newServer(cfg Config) (*Server, error) {
	if err := checkSite(cfg); err != nil {
		return nil, err
	}
	if len(cfg.VirtualProxies) == 0 {
		return nil, errors.New("qpstest: at least one virtual proxy is required")
	}
	fillDefaults(&cfg)
	s := &Server{
		cfg:       cfg,
		proxies:   map[string]*proxy{},
		site:      cfg.Site,
		moduleURI: map[string]string{},
		logoutURI: map[string]string{},
	}
	timeouts := map[string]time.Duration{}
	cookies := map[string]bool{}
	for _, vp := range cfg.VirtualProxies {
		p, err := s.newProxy(vp)
		if err != nil {
			return nil, err
		}
		if s.proxies[p.Prefix] != nil {
			return nil, fmt.Errorf("qpstest: virtual proxy prefix %q configured twice", p.Prefix)
		}
		if cookies[p.cookie] {
			return nil, fmt.Errorf("qpstest: session cookie name %q used twice", p.CookieName)
		}
		cookies[p.cookie] = true
		s.proxies[p.Prefix] = p
		s.moduleURI[p.Prefix] = p.AuthModuleRedirectURI
		s.logoutURI[p.Prefix] = p.LogoutRedirectURI
		timeouts[p.Prefix] = p.SessionTimeout
	}
	s.st = newStore(cfg.Now, timeouts, cfg.MaxSessionsPerUser)
	return s, nil
}

// checkSite requires either a CertDir or a Site made by NewSite, and a CertDir that
// matches the site's when both are set.
func checkSite(cfg Config) error {
	switch {
	case cfg.Site == nil && cfg.CertDir == "":
		return errors.New("qpstest: CertDir is required without a Site")
	case cfg.Site == nil:
		return nil
	case cfg.Site.ca == nil:
		return errors.New("qpstest: Site must be made by NewSite")
	}
	return cfg.Site.checkCertDir(cfg.CertDir)
}

func fillDefaults(cfg *Config) {
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultHostname
	}
	if cfg.RESTAddr == "" {
		cfg.RESTAddr = "127.0.0.1:0"
	}
	if cfg.BrowserAddr == "" {
		cfg.BrowserAddr = "127.0.0.1:0"
	}
	if cfg.BrowserHost == "" {
		cfg.BrowserHost = "127.0.0.1"
	}
	if cfg.MaxSessionsPerUser == 0 {
		cfg.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// newProxy checks one virtual proxy and fills its defaults.
func (s *Server) newProxy(vp VirtualProxy) (*proxy, error) {
	if vp.Prefix != "" && (!prefixPattern.MatchString(vp.Prefix) || reservedPrefixes[vp.Prefix]) {
		return nil, fmt.Errorf("qpstest: virtual proxy prefix %q is not allowed", vp.Prefix)
	}
	if vp.CookieName == "" {
		vp.CookieName = DefaultCookieName
		if vp.Prefix != "" {
			vp.CookieName += "-" + vp.Prefix
		}
	}
	if !validCookieName(vp.CookieName) {
		return nil, fmt.Errorf("qpstest: session cookie name %q is not a token", vp.CookieName)
	}
	if err := checkModuleURI(vp.AuthModuleRedirectURI); err != nil {
		return nil, err
	}
	if err := checkLogoutURI(vp.LogoutRedirectURI); err != nil {
		return nil, err
	}
	if vp.SessionTimeout == 0 {
		vp.SessionTimeout = DefaultSessionTimeout
	}
	if vp.SessionTimeout < 0 {
		return nil, errors.New("qpstest: SessionTimeout must not be negative")
	}
	p := &proxy{VirtualProxy: vp, cookie: vp.CookieName}
	if !s.cfg.BrowserTLS {
		p.cookie += "-HTTP"
	}
	return p, nil
}

// validCookieName reports whether name is an HTTP token, as a cookie name must be.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || bytesContain(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}

func bytesContain(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// checkModuleURI accepts "" or an absolute http(s) URL without a fragment.
func checkModuleURI(raw string) error {
	return checkRedirectURI("authentication module redirect URI", raw)
}

// checkLogoutURI accepts "" or an absolute http(s) URL without a fragment.
func checkLogoutURI(raw string) error {
	return checkRedirectURI("logout redirect URI", raw)
}

// checkRedirectURI accepts "" or an absolute http(s) URL without a fragment.
func checkRedirectURI(what, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("qpstest: %s: %w", what, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("qpstest: %s %q must be an absolute http(s) URL without a fragment",
			what, raw)
	}
	return nil
}

// listen starts the REST listener (mutual TLS) and the browser listener.
func (s *Server) listen(ca *authority) error {
	restCert, err := ca.issueServer(s.cfg.Hostname, s.cfg.ServerCertSAN)
	if err != nil {
		return err
	}
	s.restLn, err = net.Listen("tcp", s.cfg.RESTAddr)
	if err != nil {
		return fmt.Errorf("qpstest: listen for the REST API: %w", err)
	}
	s.restURL = "https://" + hostPort(s.cfg.Hostname, s.restLn.Addr())
	restTLS := &tls.Config{
		Certificates: []tls.Certificate{restCert.tlsCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool(),
		MinVersion:   tls.VersionTLS12,
	}
	s.restSrv = newHTTPServer(s.RESTHandler())
	go s.restSrv.Serve(tls.NewListener(s.restLn, restTLS))

	s.browsLn, err = net.Listen("tcp", s.cfg.BrowserAddr)
	if err != nil {
		return fmt.Errorf("qpstest: listen for browsers: %w", err)
	}
	s.browsSrv = newHTTPServer(s.BrowserHandler())
	if !s.cfg.BrowserTLS {
		s.browsURL = "http://" + hostPort(s.cfg.BrowserHost, s.browsLn.Addr())
		go s.browsSrv.Serve(s.browsLn)
		return nil
	}
	site, err := ca.issueSite(s.cfg.BrowserHost)
	if err != nil {
		return err
	}
	s.browsURL = "https://" + hostPort(s.cfg.BrowserHost, s.browsLn.Addr())
	siteTLS := &tls.Config{
		Certificates: []tls.Certificate{site.tlsCertificate()},
		MinVersion:   tls.VersionTLS12,
	}
	go s.browsSrv.Serve(tls.NewListener(s.browsLn, siteTLS))
	return nil
}

// newHTTPServer returns a server that keeps its errors (failed handshakes) to itself.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
}

// hostPort joins a host name with the port a listener got.
func hostPort(host string, addr net.Addr) string {
	port := 0
	if a, ok := addr.(*net.TCPAddr); ok {
		port = a.Port
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Close stops both listeners and closes their connections. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		for _, srv := range []*http.Server{s.restSrv, s.browsSrv} {
			if srv != nil {
				srv.Close()
			}
		}
		for _, ln := range []net.Listener{s.restLn, s.browsLn} {
			if ln != nil {
				ln.Close()
			}
		}
	})
}

// RESTURL returns "https://<Hostname>:<port>", the base of the REST API.
func (s *Server) RESTURL() string { return s.restURL }

// BrowserURL returns "http(s)://<BrowserHost>:<port>", the base of the browser side.
func (s *Server) BrowserURL() string { return s.browsURL }

// ProxyRestURI returns the proxyRestUri the node sends to the module for a virtual proxy:
// "https://<Hostname>:<port>/qps/<prefix>/", or ".../qps/" for the default proxy.
func (s *Server) ProxyRestURI(prefix string) string {
	if prefix == "" {
		return s.restURL + "/qps/"
	}
	return s.restURL + "/qps/" + prefix + "/"
}

// CookieName returns the cookie name the browser side reads for a virtual proxy, "-HTTP"
// included over plain http, or "" for an unknown prefix.
func (s *Server) CookieName(prefix string) string {
	if p := s.proxies[prefix]; p != nil {
		return p.cookie
	}
	return ""
}

// CertFiles returns the paths of client.pem, client_key.pem and root.pem: those of the
// node's site, in CertDir.
func (s *Server) CertFiles() (clientCert, clientKey, rootCA string) {
	return s.site.CertFiles()
}

// Site returns the node's site: Config.Site, or the site Start made for the node alone,
// which further nodes can join by passing it as their Config.Site.
func (s *Server) Site() *Site { return s.site }

// SetAuthModuleRedirectURI changes where browsers without a session of the virtual proxy
// are sent, for a module that learns its own address only after the node started.
func (s *Server) SetAuthModuleRedirectURI(prefix, uri string) error {
	if s.proxies[prefix] == nil {
		return fmt.Errorf("qpstest: no virtual proxy with prefix %q", prefix)
	}
	if err := checkModuleURI(uri); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moduleURI[prefix] = uri
	return nil
}

func (s *Server) authModuleURI(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.moduleURI[prefix]
}

// SetLogoutRedirectURI changes where the hub's logout button of the virtual proxy sends
// the browser ("" shows the node's "logged out" page), for a target that learns its own
// address only after the node started.
func (s *Server) SetLogoutRedirectURI(prefix, uri string) error {
	if s.proxies[prefix] == nil {
		return fmt.Errorf("qpstest: no virtual proxy with prefix %q", prefix)
	}
	if err := checkLogoutURI(uri); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logoutURI[prefix] = uri
	return nil
}

func (s *Server) logoutRedirectURI(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logoutURI[prefix]
}

// Sessions returns a snapshot of the live sessions, oldest first.
func (s *Server) Sessions() []Session { return s.st.all() }

// Requests returns the REST calls so far, in order, refused ones included (the newest
// 100000; calls refused at the TLS handshake never reach it).
func (s *Server) Requests() []Request { return s.st.recorded() }

// ModuleErrors returns the messages modules posted to POST /qps/error, in order.
func (s *Server) ModuleErrors() []ModuleError { return s.st.moduleErrors() }
