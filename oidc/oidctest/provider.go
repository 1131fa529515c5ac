// Package oidctest is a small, standards-following OpenID provider for tests and demos.
package oidctest

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// User is an account that can sign in at the provider's login form.
type User struct {
	// Username and Password are what the person types into the form. Both are
	// required.
	Username, Password string

	// Subject is the stable "sub" claim. The zero value derives an opaque
	// subject from Username that stays the same across runs.
	Subject string

	// Claims are extra claims such as name, email, email_verified or groups.
	// The standard claims of the profile, email, address and phone scopes are
	// released only when that scope was granted; all other claims always are.
	// A nil map adds nothing. Claims the provider sets itself (iss, sub, aud,
	// exp, iat, nonce, ...) are refused by New.
	Claims map[string]any
}

// Client is a registered relying party.
type Client struct {
	// ID and Secret are the client credentials. Both are required.
	ID, Secret string

	// RedirectURIs are the registered redirection URIs. A request must name
	// one of them exactly, byte for byte. At least one is required.
	RedirectURIs []string

	// AuthMethod is how the client authenticates at the token endpoint:
	// "client_secret_basic" (the zero value) or "client_secret_post". The
	// other method is refused.
	AuthMethod string

	// PostLogoutRedirectURIs are where the end session endpoint may send the
	// browser back to, matched exactly. Nil allows no redirect after logout.
	PostLogoutRedirectURIs []string
}

// Config configures a Provider. The zero value is not valid: Issuer, one
// user and one client are required.
type Config struct {
	// Issuer is the issuer identifier, an http or https URL without query
	// or fragment, such as "http://localhost:9082". Endpoints live under its
	// path. Required.
	Issuer string

	// Users are the accounts that can sign in. At least one is required.
	Users []User

	// Clients are the registered relying parties. At least one is required.
	Clients []Client

	// Now is the provider's clock. Nil means time.Now.
	Now func() time.Time

	// IDTokenLifetime is how long an ID token is valid. Zero means 5
	// minutes.
	IDTokenLifetime time.Duration

	// AccessTokenLifetime is how long an access token is accepted at the
	// userinfo endpoint. Zero means one hour.
	AccessTokenLifetime time.Duration

	// Key signs the ID tokens. Nil means a fresh RSA 2048 key; a given key
	// must have at least 2048 bits.
	Key *rsa.PrivateKey

	// The hooks below run on the goroutine of the request they serve, so
	// several may run at once.

	// EditIDToken, when not nil, changes the ID token claims before they
	// are signed, to make a wrong nonce, aud, iss, exp and so on. The
	// standard behaviour is to leave them alone.
	EditIDToken func(claims map[string]any)

	// SignIDToken, when not nil, replaces the signing of ID tokens entirely
	// (alg none, HS256, another key). Nil signs with RS256 and the
	// provider's key.
	SignIDToken func(claims map[string]any) (string, error)

	// EditUserinfo, when not nil, changes the userinfo claims before they
	// are sent. Nil sends them unchanged.
	EditUserinfo func(claims map[string]any)

	// DeviceFlow turns on the device authorization grant (RFC 8628):
	// discovery names the device authorization endpoint, the user code page
	// is served at /device and the token endpoint takes device codes. False
	// offers none of it.
	DeviceFlow bool

	// DeviceCodeLifetime is how long a device code and its user code are
	// valid. Zero means 10 minutes.
	DeviceCodeLifetime time.Duration

	// DevicePollInterval is the interval a device must wait between polls;
	// a faster poll gets slow_down and adds 5 seconds. Zero means 5 seconds.
	DevicePollInterval time.Duration
}

// Provider is an OpenID provider that keeps its state in memory. It is an
// http.Handler and safe for concurrent use. The zero value is not usable;
// create one with New.
type Provider struct {
	cfg      Config
	issuer   string
	base     string // the issuer's path without a trailing slash
	now      func() time.Time
	idTTL    time.Duration
	tokenTTL time.Duration
	users    map[string]*account // by username
	clients  map[string]*Client  // by client id
	key      *rsa.PrivateKey
	kid      string
	store    store
	devices  deviceStore
}

// account is a User prepared for use: the subject filled in and the
// claims kept as JSON, so each token gets its own deep copy.
type account struct {
	username, password, subject string
	claims                      map[string]json.RawMessage
}

// New checks cfg and returns a provider. It generates the signing key
// unless cfg.Key is set.
func New(cfg Config) (*Provider, error) {
	p := &Provider{
		cfg:      cfg,
		issuer:   cfg.Issuer,
		now:      cfg.Now,
		idTTL:    cfg.IDTokenLifetime,
		tokenTTL: cfg.AccessTokenLifetime,
	}
	if err := p.setIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if err := p.setUsers(cfg.Users); err != nil {
		return nil, err
	}
	if err := p.setClients(cfg.Clients); err != nil {
		return nil, err
	}
	if err := p.setLifetimes(); err != nil {
		return nil, err
	}
	if err := p.setKey(cfg.Key); err != nil {
		return nil, err
	}
	if err := p.setDevice(); err != nil {
		return nil, err
	}
	p.store.init()
	return p, nil
}

// Issuer returns the issuer identifier the provider was configured with.
func (p *Provider) Issuer() string { return p.issuer }

func (p *Provider) setIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("oidctest: issuer is required")
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return fmt.Errorf("oidctest: issuer: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("oidctest: issuer must be an absolute http or https URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("oidctest: issuer must not have a query, fragment or user info")
	}
	p.base = strings.TrimSuffix(u.EscapedPath(), "/")
	return nil
}

func (p *Provider) setLifetimes() error {
	if p.now == nil {
		p.now = time.Now
	}
	if p.idTTL < 0 || p.tokenTTL < 0 {
		return errors.New("oidctest: token lifetimes must not be negative")
	}
	if p.idTTL == 0 {
		p.idTTL = 5 * time.Minute
	}
	if p.tokenTTL == 0 {
		p.tokenTTL = time.Hour
	}
	return nil
}

func (p *Provider) setUsers(users []User) error {
	if len(users) == 0 {
		return errors.New("oidctest: at least one user is required")
	}
	p.users = make(map[string]*account, len(users))
	subjects := make(map[string]bool, len(users))
	for i, u := range users {
		a, err := newAccount(u)
		if err != nil {
			return fmt.Errorf("oidctest: user %d: %w", i, err)
		}
		if p.users[a.username] != nil {
			return fmt.Errorf("oidctest: user %d: duplicate username %q", i, a.username)
		}
		if subjects[a.subject] {
			return fmt.Errorf("oidctest: user %d: duplicate subject %q", i, a.subject)
		}
		p.users[a.username] = a
		subjects[a.subject] = true
	}
	return nil
}

func newAccount(u User) (*account, error) {
	if u.Username == "" || u.Password == "" {
		return nil, errors.New("username and password are required")
	}
	a := &account{username: u.Username, password: u.Password, subject: u.Subject}
	if a.subject == "" {
		a.subject = deriveSubject(u.Username)
	}
	if len(a.subject) > 255 {
		return nil, errors.New("subject is longer than 255 characters")
	}
	a.claims = make(map[string]json.RawMessage, len(u.Claims))
	for name, v := range u.Claims {
		if reservedClaims[name] {
			return nil, fmt.Errorf("claim %q is set by the provider", name)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("claim %q: %w", name, err)
		}
		a.claims[name] = raw
	}
	return a, nil
}

// deriveSubject returns an opaque subject that depends only on username.
func deriveSubject(username string) string {
	sum := sha256.Sum256([]byte("oidctest subject\x00" + username))
	return hex.EncodeToString(sum[:16])
}

func (p *Provider) setClients(clients []Client) error {
	if len(clients) == 0 {
		return errors.New("oidctest: at least one client is required")
	}
	p.clients = make(map[string]*Client, len(clients))
	for i, c := range clients {
		if err := checkClient(&c); err != nil {
			return fmt.Errorf("oidctest: client %d: %w", i, err)
		}
		if p.clients[c.ID] != nil {
			return fmt.Errorf("oidctest: client %d: duplicate id %q", i, c.ID)
		}
		c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
		c.PostLogoutRedirectURIs = append([]string(nil), c.PostLogoutRedirectURIs...)
		p.clients[c.ID] = &c
	}
	return nil
}

func checkClient(c *Client) error {
	if c.ID == "" || c.Secret == "" {
		return errors.New("id and secret are required")
	}
	switch c.AuthMethod {
	case "":
		c.AuthMethod = authBasic
	case authBasic, authPost:
	default:
		return fmt.Errorf("unsupported auth method %q", c.AuthMethod)
	}
	if len(c.RedirectURIs) == 0 {
		return errors.New("at least one redirect URI is required")
	}
	for _, list := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs} {
		for _, raw := range list {
			if err := checkRedirectURI(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redirect URI: %w", err)
	}
	if !u.IsAbs() || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("redirect URI %q must be absolute, without a fragment", raw)
	}
	return nil
}

// ServeHTTP routes a request to the endpoint under the issuer's path.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), p.base)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch rest {
	case discoveryPath:
		allow(w, r, p.serveDiscovery, http.MethodGet, http.MethodHead)
	case keysPath:
		allow(w, r, p.serveKeys, http.MethodGet, http.MethodHead)
	case authorizePath:
		allow(w, r, p.serveAuthorize, http.MethodGet, http.MethodPost)
	case loginPath:
		allow(w, r, p.serveLogin, http.MethodPost)
	case tokenPath:
		allow(w, r, p.serveTokenEndpoint, http.MethodPost)
	case deviceAuthPath:
		allow(w, r, p.serveDeviceAuthorization, http.MethodPost)
	case devicePath:
		allow(w, r, p.serveDevicePage, http.MethodGet, http.MethodPost)
	case userinfoPath:
		allow(w, r, p.serveUserinfo, http.MethodGet, http.MethodPost)
	case logoutPath:
		allow(w, r, p.serveLogout, http.MethodGet, http.MethodPost)
	default:
		http.NotFound(w, r)
	}
}

// allow calls h when the request uses one of methods, and answers 405
// otherwise.
func allow(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, methods ...string) {
	for _, m := range methods {
		if r.Method == m {
			h(w, r)
			return
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

// endpoint returns the absolute URL of the endpoint at path.
func (p *Provider) endpoint(path string) string {
	return strings.TrimSuffix(p.issuer, "/") + path
}
