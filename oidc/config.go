package oidc

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// Client authentication methods at the token endpoint.
const (
	// AuthMethodBasic sends the client id and secret in an HTTP Basic Authorization header.
	AuthMethodBasic = "client_secret_basic"
	// AuthMethodPost sends the client id and secret as form parameters.
	AuthMethodPost = "client_secret_post"
)

// Limits and defaults for Config.
const (
	// DefaultLeeway is the clock skew allowed when Config.Leeway is zero.
	DefaultLeeway = time.Minute
	// MaxLeeway is the largest Config.Leeway New accepts.
	MaxLeeway = 5 * time.Minute
	// nbfLeeway is how far in the future an nbf may lie, as go-oidc allows.
	nbfLeeway = 5 * time.Minute
	// minHS256Secret is the shortest client secret HS256 may use (RFC 7518, 3.2).
	minHS256Secret = 32
)

// defaultScopes are requested when Config.Scopes is nil.
var defaultScopes = []string{gooidc.ScopeOpenID, gooidc.ScopeProfile, gooidc.ScopeEmail}

// defaultAlgs are the ID token signing algorithms allowed when Config.SigningAlgs is nil.
var defaultAlgs = []string{gooidc.RS256, gooidc.ES256, gooidc.PS256}

// knownAlgs are the algorithms Config.SigningAlgs may list.
var knownAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512,
	gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512,
	gooidc.EdDSA, algHS256,
}

const algHS256 = "HS256"

// Config describes the relying party: the provider it trusts and the client registered
// there. New validates it and fills the defaults; a zero Config is refused.
type Config struct {
	// Issuer is the provider's issuer URL, compared exactly (trailing slash included) with
	// the issuer in its discovery document and in every ID token. It must be https, or
	// http on a loopback host. Required.
	Issuer string
	// ClientID is the client's id at the provider; every ID token must name it in aud.
	// Required.
	ClientID string
	// ClientSecret authenticates the client at the token endpoint, and is the HMAC key when
	// HS256 is listed in SigningAlgs. Required, except with AuthMethodPrivateKeyJWT. It
	// never appears in an error.
	ClientSecret string
	// ClientKey signs the client assertion of AuthMethodPrivateKeyJWT, and is required by
	// that method and refused with the others. Nil means no key.
	ClientKey *ClientKey
	// RedirectURL is the absolute callback URL registered at the provider. Required.
	RedirectURL string
	// Scopes are requested at the authorization endpoint. "openid" is added when missing;
	// nil means openid, profile and email.
	Scopes []string
	// ExtraAudiences are audiences an ID token may carry besides ClientID. Any other extra
	// audience is refused; nil allows none.
	ExtraAudiences []string
	// SigningAlgs is the allow-list of ID token signing algorithms; nil means RS256, ES256
	// and PS256. "none" is always refused.
	//
	// HS256 is allowed only when listed here: the token is then checked with ClientSecret
	// as the HMAC key (at least 32 bytes), never with a key from the provider's JWKS.
	SigningAlgs []string
	// AuthMethod is how the client authenticates at the token endpoint: AuthMethodBasic,
	// AuthMethodPost or AuthMethodPrivateKeyJWT. Empty picks from discovery's
	// token_endpoint_auth_methods_supported, basic preferred, basic when the list is
	// absent; private_key_jwt is used only when named here. It is never found by trial,
	// since a failed attempt would spend the single-use code.
	AuthMethod string
	// Leeway is the clock skew allowed for exp and for an iat in the future; zero means
	// DefaultLeeway. More than MaxLeeway, or a negative value, is a configuration error.
	Leeway time.Duration
	// Tenants turns on the multi-tenant mode of Microsoft Entra ID: Issuer is then the
	// "organizations" or "common" form, such as
	// https://login.microsoftonline.com/organizations/v2.0, whose discovery document must
	// announce https://login.microsoftonline.com/{tenantid}/v2.0. An ID token is accepted
	// only when its tid is one of Tenants (tenant ids, GUIDs) and its iss is that issuer
	// with {tenantid} replaced by the tid. Nil keeps the exact comparison of the issuer.
	Tenants []string
	// HTTPClient makes every call to the provider: discovery, keys, token and userinfo.
	// Nil means a client with connect, handshake and overall timeouts.
	HTTPClient *http.Client
	// Now is the clock for token times; nil means time.Now.
	Now func() time.Time
}

// settings is a validated Config with its defaults filled in.
type settings struct {
	Config
	audiences map[string]bool // ClientID and ExtraAudiences
	hs256     bool
	tenants   map[string]bool // lowercase; empty outside the multi-tenant mode
	// tenantIssuer is the issuer discovery announces in the multi-tenant mode, with
	// tenantPlaceholder where a token's iss has its tid.
	tenantIssuer string
}

// validate checks cfg and returns it with defaults filled in, without changing cfg.
func (cfg Config) validate() (*settings, error) {
	if err := checkProviderURL("Issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, configError("ClientID is required")
	}
	if err := checkRedirectURL(cfg.RedirectURL); err != nil {
		return nil, err
	}
	if err := cfg.checkClientAuth(); err != nil {
		return nil, err
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, configError("Leeway must be between 0 and " + MaxLeeway.String() +
			", not " + cfg.Leeway.String())
	}
	s := &settings{Config: cfg}
	if err := s.fillAlgs(); err != nil {
		return nil, err
	}
	if err := s.fillTenants(); err != nil {
		return nil, err
	}
	s.fillDefaults()
	return s, nil
}

// checkClientAuth checks that the credentials fit AuthMethod.
func (cfg Config) checkClientAuth() error {
	switch cfg.AuthMethod {
	case "", AuthMethodBasic, AuthMethodPost:
		if cfg.ClientSecret == "" {
			return configError("ClientSecret is required (client_secret_basic or _post)")
		}
		if cfg.ClientKey != nil {
			return configError("ClientKey is used only with AuthMethod " +
				AuthMethodPrivateKeyJWT)
		}
	case AuthMethodPrivateKeyJWT:
		if cfg.ClientKey == nil || cfg.ClientKey.signer == nil {
			return configError("AuthMethod must be " + AuthMethodBasic + " or " +
				AuthMethodPost + " when no ClientKey is set: " + AuthMethodPrivateKeyJWT +
				" signs with ClientKey")
		}
	default:
		return configError("AuthMethod must be " + AuthMethodBasic + ", " + AuthMethodPost +
			", " + AuthMethodPrivateKeyJWT + " or empty, not " + quote(cfg.AuthMethod))
	}
	return nil
}

// fillAlgs checks SigningAlgs against the algorithms this package can verify.
func (s *settings) fillAlgs() error {
	if s.SigningAlgs == nil {
		s.SigningAlgs = defaultAlgs
	}
	if len(s.SigningAlgs) == 0 {
		return configError("SigningAlgs is empty; leave it unset for RS256, ES256, PS256")
	}
	for _, alg := range s.SigningAlgs {
		if alg == "none" {
			return configError(`SigningAlgs must not list "none": unsigned tokens are refused`)
		}
		if !slices.Contains(knownAlgs, alg) {
			return configError("SigningAlgs lists " + quote(alg) + ", which is not supported")
		}
	}
	s.SigningAlgs = slices.Clone(s.SigningAlgs)
	s.hs256 = slices.Contains(s.SigningAlgs, algHS256)
	if s.hs256 && len(s.ClientSecret) < minHS256Secret {
		return configError("HS256 needs a client secret of at least 32 bytes")
	}
	return nil
}

func (s *settings) fillDefaults() {
	switch {
	case s.Scopes == nil:
		s.Scopes = defaultScopes
	case !slices.Contains(s.Scopes, gooidc.ScopeOpenID):
		s.Scopes = append([]string{gooidc.ScopeOpenID}, s.Scopes...)
	}
	s.Scopes = slices.Clone(s.Scopes)
	if s.Leeway == 0 {
		s.Leeway = DefaultLeeway
	}
	if s.HTTPClient == nil {
		s.HTTPClient = defaultHTTPClient()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	s.audiences = map[string]bool{s.ClientID: true}
	for _, aud := range s.ExtraAudiences {
		s.audiences[aud] = true
	}
}

// defaultHTTPClient bounds every call to the provider in time.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 10 * time.Second
	return &http.Client{Transport: t, Timeout: 15 * time.Second}
}

// checkProviderURL accepts an absolute https URL, or http on a loopback host.
func checkProviderURL(name, raw string) error {
	if raw == "" {
		return configError(name + " is required")
	}
	if problem := providerURLProblem(raw); problem != "" {
		return configError(name + " " + problem)
	}
	return nil
}

// providerURLProblem says what is wrong with a provider URL, or returns "".
func providerURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "must be an absolute URL, not " + quote(raw)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname())) {
		return ""
	}
	return "must use https (http only on a loopback host), not " + quote(raw)
}

func checkRedirectURL(raw string) error {
	if raw == "" {
		return configError("RedirectURL is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return configError("RedirectURL must be an absolute http(s) URL, not " + quote(raw))
	}
	if u.Fragment != "" {
		return configError("RedirectURL must not have a fragment")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
