package bridge

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
)

// Environment variables that supply secrets instead of the configuration file.
const (
	EnvClientSecret = "QLIK_OIDC_BRIDGE_CLIENT_SECRET"
	EnvCookieKeys   = "QLIK_OIDC_BRIDGE_COOKIE_KEYS"
)

// Config is the whole configuration, as read from YAML. Load fills defaults and validates it;
// the zero value is not usable.
type Config struct {
	Server     ServerConfig `yaml:"server"`
	OIDC       OIDCConfig   `yaml:"oidc"`
	Qlik       QlikConfig   `yaml:"qlik"`
	Mapping    Mapping      `yaml:"mapping"`
	Access     Access       `yaml:"access"`
	CookieKeys Secrets      `yaml:"cookie_keys"`
	// CookieKeysFile names a file with one key per line; it adds to CookieKeys.
	CookieKeysFile string        `yaml:"cookie_keys_file"`
	FlowLifetime   time.Duration `yaml:"flow_lifetime"`
	Logout         LogoutConfig  `yaml:"logout"`
	Scripts        ScriptsConfig `yaml:"scripts"`
	Log            LogConfig     `yaml:"log"`

	keys [][]byte
}

// ServerConfig says where the bridge listens and how browsers reach it.
type ServerConfig struct {
	// PublicURL is the bridge's own URL as browsers see it; the redirect URI is
	// PublicURL + "/callback". Required.
	PublicURL string `yaml:"public_url"`
	// Listen is the address to listen on; "" means ":8080".
	Listen string `yaml:"listen"`
	// TLS serves HTTPS when both files are set.
	TLS struct {
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
	} `yaml:"tls"`

	public *url.URL
}

// OIDCConfig describes the identity provider and the bridge's client there.
type OIDCConfig struct {
	Issuer           string        `yaml:"issuer"`
	ClientID         string        `yaml:"client_id"`
	ClientSecret     Secret        `yaml:"client_secret"`
	ClientSecretFile string        `yaml:"client_secret_file"`
	AuthMethod       string        `yaml:"auth_method"`
	Scopes           []string      `yaml:"scopes"`
	ExtraAudiences   []string      `yaml:"extra_audiences"`
	SigningAlgs      []string      `yaml:"signing_algs"`
	CAFile           string        `yaml:"ca_file"`
	Userinfo         string        `yaml:"userinfo"`
	Leeway           time.Duration `yaml:"leeway"`
	Timeout          time.Duration `yaml:"timeout"`
	// PrivateKeyFile is the PEM key (and certificate) of auth_method private_key_jwt;
	// PrivateKeyID is the kid its assertions carry ("" derives one, see oidc.ParseClientKey).
	PrivateKeyFile string `yaml:"private_key_file"`
	PrivateKeyID   string `yaml:"private_key_id"`
	// AccessTokenClaims adds the claims of a JWT access token, verified against the
	// issuer's keys, after those of the ID token and userinfo.
	AccessTokenClaims bool `yaml:"access_token_claims"`
	// Tenants turns on Entra ID's multi-tenant mode (see oidc.Config.Tenants).
	Tenants []string `yaml:"tenants"`

	clientKey *oidc.ClientKey
}

// QlikConfig describes the Qlik Sense site.
type QlikConfig struct {
	Certificates struct {
		Client    string `yaml:"client"`
		ClientKey string `yaml:"client_key"`
		Root      string `yaml:"root"`
	} `yaml:"certificates"`
	VirtualProxies []VirtualProxyConfig `yaml:"virtual_proxies"`
	// AllowedTargetOrigins adds origins (scheme://host[:port]) that a login may return to,
	// besides the virtual proxies' own.
	AllowedTargetOrigins []string      `yaml:"allowed_target_origins"`
	Timeout              time.Duration `yaml:"timeout"`
}

// Login modes of a virtual proxy.
const (
	ModeSession = "session"
	ModeTicket  = "ticket"
)

// Logout scopes.
const (
	LogoutBrowser = "browser"
	LogoutUser    = "user"
)

// VirtualProxyConfig is one Qlik virtual proxy the bridge logs users into.
type VirtualProxyConfig struct {
	// Prefix is the virtual proxy's prefix, lowercase; "" is the default virtual proxy.
	Prefix string `yaml:"prefix"`
	// PublicURL is where browsers reach the virtual proxy, e.g. https://qs.example.com/bi/.
	// An http URL means the session cookie name gets the "-HTTP" suffix.
	PublicURL string `yaml:"public_url"`
	// Mode is how a login ends: "session" or "ticket". Required.
	Mode string `yaml:"mode"`
	// CookieName is the virtual proxy's "Session cookie header name";
	// "" means X-Qlik-Session-<prefix> (X-Qlik-Session for the default proxy).
	CookieName string `yaml:"cookie_name"`
	// CookieDomain is the virtual proxy's "Session cookie domain"; "" means host only.
	CookieDomain string `yaml:"cookie_domain"`
	// SameSite is lax (the default), strict or none (needs https).
	SameSite string `yaml:"same_site"`
	// LandingURL is where a login without a usable target ends; "" means PublicURL + "hub/".
	LandingURL string       `yaml:"landing_url"`
	Nodes      []NodeConfig `yaml:"nodes"`
	// LogoutScope is what a logout ends: "browser" (the default), this browser's proxy
	// session, or "user", every proxy session of the user on every device.
	LogoutScope string `yaml:"logout_scope"`
	// Mapping and Access replace the top-level blocks for this virtual proxy when set.
	Mapping *Mapping `yaml:"mapping"`
	Access  *Access  `yaml:"access"`

	public  *url.URL
	landing *url.URL
}

// NodeConfig is one proxy node's REST API.
type NodeConfig struct {
	// URL is the node's QPS REST base, e.g. https://qs.example.com:4243. Required.
	URL string `yaml:"url"`
	// ServerName is the name its certificate carries when it differs from the URL's host.
	ServerName string `yaml:"server_name"`
}

// LogoutConfig says what /logout does beyond ending the Qlik sessions.
type LogoutConfig struct {
	// KeepIdPSession skips the identity provider's logout (RP-initiated logout); by default
	// the browser is sent to the provider's end_session_endpoint when it has one.
	KeepIdPSession bool `yaml:"keep_idp_session"`
	// PostLogoutRedirectURI is where the provider sends the browser after its logout; it
	// must be registered there, and be on a Qlik origin or the bridge. "" lets the
	// provider decide.
	PostLogoutRedirectURI string `yaml:"post_logout_redirect_uri"`
}

// LogConfig sets the log's level and format.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json (default) or text
}

// Secret is a string that never prints.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Secrets is a list of secrets.
type Secrets []Secret

// Load reads, completes and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data)
}

// Parse reads, completes and validates a configuration from YAML.
func Parse(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config: the file is empty; start from config.example.yaml")
		}
		// yaml names Go types ("in type bridge.OIDCConfig"); the setting's line is enough.
		msg := goTypeName.ReplaceAllString(err.Error(), "")
		return nil, fmt.Errorf("config: %s", msg)
	}
	if err := c.complete(); err != nil {
		return nil, err
	}
	return &c, nil
}

var goTypeName = regexp.MustCompile(` in type [a-z]+\.[A-Za-z]+`)

// complete reads secrets, fills defaults and validates, reporting every problem at once.
func (c *Config) complete() error {
	p := &problems{}
	c.readSecrets(p)
	c.Server.check(p)
	c.OIDC.check(p)
	c.Qlik.check(p, c.Server.public)
	c.Mapping.check(p, "mapping")
	c.Access.check(p, "access")
	for i := range c.Qlik.VirtualProxies {
		vp := &c.Qlik.VirtualProxies[i]
		at := fmt.Sprintf("qlik.virtual_proxies[%d]", i)
		if vp.Mapping != nil {
			vp.Mapping.check(p, at+".mapping")
		}
		if vp.Access != nil {
			vp.Access.check(p, at+".access")
		}
	}
	if c.FlowLifetime == 0 {
		c.FlowLifetime = 10 * time.Minute
	}
	if c.FlowLifetime < time.Minute || c.FlowLifetime > time.Hour {
		p.add("flow_lifetime", "must be between 1m and 1h")
	}
	c.Log.check(p)
	c.Scripts.check(p, c.Qlik.VirtualProxies)
	if u := c.Logout.PostLogoutRedirectURI; u != "" {
		if pu, ok := p.absURL("logout.post_logout_redirect_uri", u, true); ok &&
			!newTargetPolicy(&c.Qlik).origins[origin(pu)] &&
			(c.Server.public == nil || origin(pu) != origin(c.Server.public)) {
			p.add("logout.post_logout_redirect_uri", "must be on a virtual proxy's origin, "+
				"an allowed target origin or the bridge itself")
		}
	}
	return p.err()
}

func (c *Config) readSecrets(p *problems) {
	if v := os.Getenv(EnvClientSecret); v != "" {
		c.OIDC.ClientSecret = Secret(v)
	} else if f := c.OIDC.ClientSecretFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			p.add("oidc.client_secret_file", err.Error())
		}
		c.OIDC.ClientSecret = Secret(strings.TrimSpace(string(b)))
	}

	raw := append([]Secret(nil), c.CookieKeys...)
	if v := os.Getenv(EnvCookieKeys); v != "" {
		raw = nil
		for _, k := range strings.FieldsFunc(v, isListSep) {
			raw = append(raw, Secret(k))
		}
	} else if f := c.CookieKeysFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			p.add("cookie_keys_file", err.Error())
		}
		for _, k := range strings.FieldsFunc(string(b), isListSep) {
			raw = append(raw, Secret(k))
		}
	}
	if len(raw) == 0 {
		p.add("cookie_keys", "at least one key is required (make one with "+
			"`qlik-oidc-bridge keygen`; the first key seals, every key opens)")
	}
	for i, k := range raw {
		key, err := decodeKey(string(k))
		if err != nil {
			p.add(fmt.Sprintf("cookie_keys[%d]", i), err.Error())
			continue
		}
		c.keys = append(c.keys, key)
	}
}

func isListSep(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }

// decodeKey accepts 32 bytes in standard or URL-safe base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	if err != nil || len(b) != 32 {
		return nil, errors.New("must be 32 random bytes in base64 " +
			"(make one with `qlik-oidc-bridge keygen`)")
	}
	return b, nil
}

func (s *ServerConfig) check(p *problems) {
	if s.Listen == "" {
		s.Listen = ":8080"
	}
	u, ok := p.absURL("server.public_url", s.PublicURL, true)
	if ok && u.RawQuery != "" {
		p.add("server.public_url", "must not have a query")
	}
	if ok {
		u.Path = strings.TrimSuffix(u.Path, "/")
		s.public = u
	}
	switch {
	case (s.TLS.CertFile == "") != (s.TLS.KeyFile == ""):
		p.add("server.tls", "set both cert_file and key_file, or neither")
	case s.TLS.CertFile != "":
		if _, err := tls.LoadX509KeyPair(s.TLS.CertFile, s.TLS.KeyFile); err != nil {
			p.add("server.tls", fmt.Sprintf("cert_file %s and key_file %s: %v",
				s.TLS.CertFile, s.TLS.KeyFile, err))
		}
	}
}

// Userinfo settings.
const (
	UserinfoAuto   = "auto"
	UserinfoAlways = "always"
	UserinfoNever  = "never"
)

func (o *OIDCConfig) check(p *problems) {
	if o.Issuer == "" {
		p.add("oidc.issuer", "required: the identity provider's issuer URL, exactly as its "+
			"discovery document says")
	} else if u, ok := p.absURL("oidc.issuer", o.Issuer, true); ok &&
		u.Scheme == "http" && !isLoopback(u.Hostname()) {
		p.add("oidc.issuer", "must be https (http is accepted only for a provider on loopback)")
	}
	if o.ClientID == "" {
		p.add("oidc.client_id", "required: the client id registered at the identity provider")
	}
	switch o.AuthMethod {
	case "", oidc.AuthMethodBasic, oidc.AuthMethodPost:
		if o.ClientSecret == "" {
			p.add("oidc.client_secret", "required: set it here, in oidc.client_secret_file "+
				"or in "+EnvClientSecret)
		}
	case oidc.AuthMethodPrivateKeyJWT:
		o.readClientKey(p)
	default:
		p.add("oidc.auth_method", "must be client_secret_basic, client_secret_post, "+
			"private_key_jwt or empty (taken from the provider's discovery document)")
	}
	for _, alg := range o.SigningAlgs {
		if strings.EqualFold(alg, "none") {
			p.add("oidc.signing_algs", "\"none\" can never be allowed")
		}
	}
	switch o.Userinfo {
	case "":
		o.Userinfo = UserinfoAuto
	case UserinfoAuto, UserinfoAlways, UserinfoNever:
	default:
		p.add("oidc.userinfo", "must be auto, always or never")
	}
	if o.Leeway < 0 || o.Leeway > 5*time.Minute {
		p.add("oidc.leeway", "must be between 0s and 5m")
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.CAFile != "" {
		if _, err := os.Stat(o.CAFile); err != nil {
			p.add("oidc.ca_file", err.Error())
		}
	}
}

// readClientKey reads the key of private_key_jwt.
func (o *OIDCConfig) readClientKey(p *problems) {
	if o.PrivateKeyFile == "" {
		p.add("oidc.private_key_file", "required by private_key_jwt: the PEM private key "+
			"whose certificate or public key is registered at the identity provider")
		return
	}
	b, err := os.ReadFile(o.PrivateKeyFile)
	if err == nil {
		o.clientKey, err = oidc.ParseClientKey(b, o.PrivateKeyID)
	}
	if err != nil {
		p.add("oidc.private_key_file", err.Error())
	}
}

func (q *QlikConfig) check(p *problems, bridgeURL *url.URL) {
	cert := &q.Certificates
	for _, f := range []struct{ name, path string }{
		{"client", cert.Client}, {"client_key", cert.ClientKey}, {"root", cert.Root},
	} {
		at := "qlik.certificates." + f.name
		if f.path == "" {
			p.add(at, "required: the PEM file the QMC exports (client.pem, client_key.pem, root.pem)")
		} else if _, err := os.Stat(f.path); err != nil {
			p.add(at, err.Error())
		}
	}
	if q.Timeout == 0 {
		q.Timeout = 10 * time.Second
	}
	if len(q.VirtualProxies) == 0 {
		p.add("qlik.virtual_proxies", "list at least one virtual proxy")
	}
	seen := map[string]bool{}
	for i := range q.VirtualProxies {
		vp := &q.VirtualProxies[i]
		at := fmt.Sprintf("qlik.virtual_proxies[%d]", i)
		if seen[vp.Prefix] {
			p.add(at+".prefix", fmt.Sprintf("%q is listed twice", vp.Prefix))
		}
		seen[vp.Prefix] = true
		vp.check(p, at, bridgeURL)
	}
	for i, o := range q.AllowedTargetOrigins {
		at := fmt.Sprintf("qlik.allowed_target_origins[%d]", i)
		if u, ok := p.absURL(at, o, false); ok && (u.Path != "" && u.Path != "/" || u.RawQuery != "") {
			p.add(at, "must be an origin only: scheme://host[:port]")
		}
	}
}

func (vp *VirtualProxyConfig) check(p *problems, at string, bridgeURL *url.URL) {
	if !validPrefix(vp.Prefix) {
		p.add(at+".prefix", "must be lowercase letters, digits, '-' or '_' (as in the QMC)")
	}
	if u, ok := p.absURL(at+".public_url", vp.PublicURL, true); ok {
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		want := "/"
		if vp.Prefix != "" {
			want = "/" + vp.Prefix + "/"
		}
		if u.Path != want {
			p.add(at+".public_url", fmt.Sprintf("the path must be %q, the virtual proxy's prefix", want))
		}
		vp.public = u
	}
	switch vp.Mode {
	case ModeSession, ModeTicket:
	case "":
		p.add(at+".mode", "required: session (the bridge sets the proxy's cookie) or ticket "+
			"(the proxy redeems a ticket and sets its own cookie)")
	default:
		p.add(at+".mode", "must be session or ticket")
	}
	if vp.CookieName == "" {
		vp.CookieName = "X-Qlik-Session"
		if vp.Prefix != "" {
			vp.CookieName += "-" + vp.Prefix
		}
	}
	if strings.HasSuffix(vp.CookieName, "-HTTP") {
		p.add(at+".cookie_name", "give the name as in the QMC, without -HTTP: the bridge adds it "+
			"when public_url is http")
	}
	vp.SameSite = strings.ToLower(vp.SameSite)
	switch vp.SameSite {
	case "":
		vp.SameSite = "lax"
	case "lax", "strict":
	case "none":
		if vp.public != nil && vp.public.Scheme != "https" {
			p.add(at+".same_site", "none needs Qlik over https (browsers drop SameSite=None "+
				"cookies without Secure)")
		}
	default:
		p.add(at+".same_site", "must be lax, strict or none")
	}
	vp.CookieDomain = strings.TrimPrefix(strings.ToLower(vp.CookieDomain), ".")
	switch vp.LogoutScope {
	case "":
		vp.LogoutScope = LogoutBrowser
	case LogoutBrowser, LogoutUser:
	default:
		p.add(at+".logout_scope", "must be browser or user")
	}
	if vp.Mode == ModeSession && vp.public != nil && bridgeURL != nil {
		checkCookieReach(p, at, vp, bridgeURL)
	}
	if vp.LandingURL == "" && vp.public != nil {
		vp.LandingURL = vp.public.String() + "hub/"
	}
	if u, ok := p.absURL(at+".landing_url", vp.LandingURL, true); ok {
		vp.landing = u
	}
	if len(vp.Nodes) == 0 {
		p.add(at+".nodes", "list at least one proxy node, e.g. url: https://qs.example.com:4243")
	}
	for j, n := range vp.Nodes {
		nat := fmt.Sprintf("%s.nodes[%d].url", at, j)
		p.absURL(nat, n.URL, false) // https only: the QPS REST API, usually port 4243
	}
}

// checkCookieReach makes sure a cookie the bridge sets is one the browser will both accept
// from the bridge and send to Qlik (case: the proxy never sees the cookie).
func checkCookieReach(p *problems, at string, vp *VirtualProxyConfig, bridgeURL *url.URL) {
	qlikHost := strings.ToLower(vp.public.Hostname())
	bridgeHost := strings.ToLower(bridgeURL.Hostname())
	if vp.CookieDomain == "" {
		if qlikHost != bridgeHost {
			p.add(at+".cookie_domain", fmt.Sprintf("in session mode the bridge (%s) and Qlik (%s) "+
				"must share the cookie: set the virtual proxy's session cookie domain to a domain "+
				"of both, here and in the QMC, or use mode: ticket", bridgeHost, qlikHost))
		}
		return
	}
	for _, h := range []struct{ what, host string }{{"Qlik", qlikHost}, {"the bridge", bridgeHost}} {
		if !domainMatch(h.host, vp.CookieDomain) {
			p.add(at+".cookie_domain", fmt.Sprintf("%q does not cover %s's host %s",
				vp.CookieDomain, h.what, h.host))
		}
	}
	if bridgeURL.Scheme == "http" && vp.public.Scheme == "https" {
		p.add("server.public_url", "must be https when Qlik is: a cookie set over http "+
			"cannot be Secure")
	}
}

// isLoopback reports whether host names this machine: localhost, *.localhost or a loopback IP.
func isLoopback(host string) bool {
	host = strings.ToLower(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func domainMatch(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}

func validPrefix(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (l *LogConfig) check(p *problems) {
	switch l.Level {
	case "":
		l.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "must be debug, info, warn or error")
	}
	switch l.Format {
	case "":
		l.Format = "json"
	case "json", "text":
	default:
		p.add("log.format", "must be json or text")
	}
}

// problems collects configuration errors, each naming its setting.
type problems struct{ list []string }

func (p *problems) add(setting, msg string) {
	p.list = append(p.list, setting+": "+msg)
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ConfigError{Problems: p.list}
}

// absURL parses an absolute http(s) URL, reporting a problem under setting when it is not.
func (p *problems) absURL(setting, raw string, allowHTTP bool) (*url.URL, bool) {
	if raw == "" {
		p.add(setting, "required")
		return nil, false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" ||
		(u.Scheme != "https" && !(allowHTTP && u.Scheme == "http")) {
		want := "an absolute https URL"
		if allowHTTP {
			want = "an absolute http or https URL"
		}
		p.add(setting, fmt.Sprintf("%q is not %s", raw, want))
		return nil, false
	}
	u.Host = strings.ToLower(u.Host)
	return u, true
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "config: " + strings.Join(e.Problems, "\n  config: ")
}
