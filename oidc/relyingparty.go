// Package oidc is the OpenID Connect relying party: discovery, the authorization URL with
// PKCE and nonce, the code exchange, ID token verification and userinfo.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// RelyingParty runs the authorization code flow against one provider. It is safe for
// concurrent use. The zero value is not usable; build one with New.
type RelyingParty struct {
	cfg        *settings
	provider   *gooidc.Provider
	oauth      oauth2.Config
	verifier   *gooidc.IDTokenVerifier
	atVerifier *gooidc.IDTokenVerifier // for JWT access tokens; nil when no alg fits
	// tenantVerifier skips the issuer check for settings.checkTenant; nil outside the
	// multi-tenant mode.
	tenantVerifier *gooidc.IDTokenVerifier
	authMethod     string
	endSession     string
	seen           jtiCache // logout token ids already used
}

// discovery holds the fields of the discovery document that go-oidc does not expose.
type discovery struct {
	Issuer      string   `json:"issuer"`
	JWKSURL     string   `json:"jwks_uri"`
	EndSession  string   `json:"end_session_endpoint"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

// Login is the outcome of a successful Exchange. Its zero value holds no login.
type Login struct {
	// Subject is the ID token's sub, never empty.
	Subject string
	// Claims are the verified ID token's claims. Numbers are json.Number, so large
	// values survive; objects are map[string]any and arrays []any.
	Claims map[string]any
	// RawIDToken is the ID token as received, kept for id_token_hint at logout.
	// It is a credential: never log it.
	RawIDToken string
	// Token is the token endpoint's answer, used for userinfo. Never log it.
	Token *oauth2.Token
	// Expiry is the ID token's exp.
	Expiry time.Time
}

// New validates cfg, loads the provider's discovery document with cfg.HTTPClient and
// returns a RelyingParty. ctx bounds discovery only.
func New(ctx context.Context, cfg Config) (*RelyingParty, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	provider, meta, err := discover(ctx, s)
	if err != nil {
		return nil, err
	}
	method, err := pickAuthMethod(s.AuthMethod, meta.AuthMethods)
	if err != nil {
		return nil, err
	}

	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader // never AutoDetect: it retries, spending the code
	secret := s.ClientSecret
	switch method {
	case AuthMethodPost:
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	case AuthMethodPrivateKeyJWT:
		endpoint.AuthStyle = oauth2.AuthStyleInParams // client_id only; the assertion is added
		secret = ""
	}
	keys := keySet(s, meta.JWKSURL)
	return &RelyingParty{
		cfg:      s,
		provider: provider,
		oauth: oauth2.Config{
			ClientID:     s.ClientID,
			ClientSecret: secret,
			RedirectURL:  s.RedirectURL,
			Scopes:       s.Scopes,
			Endpoint:     endpoint,
		},
		verifier:       newVerifier(s, keys, false),
		atVerifier:     newAccessTokenVerifier(s, keys),
		tenantVerifier: newTenantVerifier(s, keys),
		authMethod:     method,
		endSession:     meta.EndSession,
	}, nil
}

// discover loads and checks the discovery document.
func discover(ctx context.Context, s *settings) (*gooidc.Provider, discovery, error) {
	var meta discovery
	ctx = s.discoveryContext(gooidc.ClientContext(ctx, s.HTTPClient))
	provider, err := gooidc.NewProvider(ctx, s.Issuer)
	if err != nil {
		return nil, meta, discoveryError(s.Issuer, err)
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, meta, newError(ErrDiscovery, "discovery", msgDiscovery,
			"cannot decode the discovery document: "+err.Error(), err)
	}
	if err := s.checkTenantDiscovery(meta.Issuer); err != nil {
		return nil, meta, err
	}
	if err := checkEndpoints(provider, meta); err != nil {
		return nil, meta, err
	}
	return provider, meta, nil
}

// discoveryError explains a failed discovery, naming both issuers on a mismatch.
func discoveryError(issuer string, err error) error {
	var mismatch *gooidc.IssuerMismatchError
	if !errors.As(err, &mismatch) {
		return newError(ErrDiscovery, "discovery", msgDiscovery,
			"cannot load the discovery document of "+quote(issuer)+": "+bounded(err.Error()), err)
	}
	configured, discovered := mismatch.Provided, mismatch.Discovered
	detail := fmt.Sprintf("the configured issuer %s differs from the issuer %s in the "+
		"provider's discovery document; set the issuer to %s exactly",
		quote(configured), quote(discovered), quote(discovered))
	if strings.TrimSuffix(configured, "/") == strings.TrimSuffix(discovered, "/") {
		detail = fmt.Sprintf("the configured issuer %s differs from the provider's issuer %s "+
			"only by a trailing slash; set the issuer to %s exactly, since ID tokens are "+
			"compared character for character", quote(configured), quote(discovered),
			quote(discovered))
	}
	return newError(ErrDiscovery, "issuer_mismatch", msgDiscovery, detail, err)
}

// checkEndpoints requires the endpoints the login needs, each on https.
func checkEndpoints(p *gooidc.Provider, meta discovery) error {
	endpoints := []struct{ name, url string }{
		{"authorization_endpoint", p.Endpoint().AuthURL},
		{"token_endpoint", p.Endpoint().TokenURL},
		{"jwks_uri", meta.JWKSURL},
		{"userinfo_endpoint", p.UserInfoEndpoint()},
	}
	for _, e := range endpoints {
		if e.url == "" && e.name == "userinfo_endpoint" {
			continue
		}
		if e.url == "" {
			return newError(ErrDiscovery, "discovery", msgDiscovery,
				"the discovery document has no "+e.name, nil)
		}
		if problem := providerURLProblem(e.url); problem != "" {
			return newError(ErrDiscovery, "discovery", msgDiscovery,
				"the discovery document's "+e.name+" "+problem, nil)
		}
	}
	return nil
}

// pickAuthMethod returns the configured method, or the one discovery supports, basic first.
func pickAuthMethod(configured string, supported []string) (string, error) {
	switch {
	case configured != "":
		return configured, nil
	case len(supported) == 0, slices.Contains(supported, AuthMethodBasic):
		return AuthMethodBasic, nil
	case slices.Contains(supported, AuthMethodPost):
		return AuthMethodPost, nil
	}
	return "", newError(ErrDiscovery, "auth_method", msgDiscovery,
		fmt.Sprintf("the provider supports none of %s, %s at the token endpoint (it lists %q); "+
			"allow one of them for this client at the provider, or set the auth method "+
			"(%s needs a client key)", AuthMethodBasic, AuthMethodPost, supported,
			AuthMethodPrivateKeyJWT), nil)
}

// AuthCodeURL returns the provider's authorization URL for a new login, carrying state,
// nonce and the S256 PKCE challenge of verifier. The caller keeps all three for Exchange;
// none may be empty, and each should come from crypto/rand (oauth2.GenerateVerifier makes
// a verifier).
func (rp *RelyingParty) AuthCodeURL(state, nonce, verifier string) string {
	return rp.oauth.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
}

// Exchange redeems code at the token endpoint with exactly one request, then verifies the
// ID token, including that it carries nonce, the one sent with the authorization request.
func (rp *RelyingParty) Exchange(ctx context.Context, code, verifier, nonce string) (
	*Login, error) {
	if code == "" || verifier == "" || nonce == "" {
		return nil, newError(ErrExchange, "missing_input", msgExchange,
			"Exchange needs a code, a PKCE verifier and a nonce", nil)
	}
	ctx = gooidc.ClientContext(ctx, rp.cfg.HTTPClient)
	opts, err := rp.clientAuthOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, oauth2.VerifierOption(verifier))
	token, err := rp.oauth.Exchange(ctx, code, opts...)
	if err != nil {
		return nil, exchangeError(err, code, rp.cfg.ClientSecret)
	}
	raw, _ := token.Extra("id_token").(string)
	if raw == "" {
		return nil, newError(ErrExchange, "no_id_token", msgExchange,
			"the token response has no id_token; is the openid scope allowed for this client?",
			nil)
	}
	claims, expiry, err := rp.verify(ctx, raw, nonce)
	if err != nil {
		return nil, err
	}
	return &Login{
		Subject:    claims["sub"].(string),
		Claims:     claims,
		RawIDToken: raw,
		Token:      token,
		Expiry:     expiry,
	}, nil
}

// exchangeError classifies a failed token request without keeping the response, whose
// request carries the client credentials. The code and the secret are cut out of the
// provider's error description, should it echo them.
func exchangeError(err error, code, secret string) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return newError(ErrExchange, "token_request", msgExchange,
			"token request failed: "+bounded(err.Error()), err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	detail := fmt.Sprintf("token endpoint answered %d, error %s", status, quote(re.ErrorCode))
	if re.ErrorDescription != "" {
		desc := strings.ReplaceAll(re.ErrorDescription, code, "[code]")
		if secret != "" {
			desc = strings.ReplaceAll(desc, secret, "[secret]")
		}
		detail += ", description " + quote(desc)
	}
	message := msgRefused
	switch re.ErrorCode {
	case "invalid_grant":
		message = msgCode
	case "invalid_client", "unauthorized_client":
		message = msgClient
		detail += "; check the client id, the secret and the auth method"
	}
	reason := "token_endpoint"
	if slices.Contains(oauthErrorCodes, re.ErrorCode) {
		reason = re.ErrorCode
	}
	return newError(ErrProvider, reason, message, detail, nil)
}

// oauthErrorCodes are the token endpoint errors of RFC 6749, 5.2, used as reasons as is.
var oauthErrorCodes = []string{
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
	"unsupported_grant_type", "invalid_scope",
}

// EndSessionURL returns discovery's end_session_endpoint, or "" when it names none.
func (rp *RelyingParty) EndSessionURL() string {
	return rp.endSession
}

// AuthMethod returns the client authentication method in use at the token endpoint.
func (rp *RelyingParty) AuthMethod() string {
	return rp.authMethod
}
