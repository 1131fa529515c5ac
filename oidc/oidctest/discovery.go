package oidctest

import "net/http"

// Paths of the endpoints, under the issuer's path.
const (
	discoveryPath = "/.well-known/openid-configuration"
	authorizePath = "/authorize"
	loginPath     = "/login"
	tokenPath     = "/token"
	userinfoPath  = "/userinfo"
	logoutPath    = "/logout"
)

// metadata is the provider metadata of OpenID Connect Discovery 1.0.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	ScopesSupported       []string `json:"scopes_supported"`
	ResponseTypes         []string `json:"response_types_supported"`
	ResponseModes         []string `json:"response_modes_supported"`
	GrantTypes            []string `json:"grant_types_supported"`
	SubjectTypes          []string `json:"subject_types_supported"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	ClaimsSupported       []string `json:"claims_supported"`
	ClaimsParameter       bool     `json:"claims_parameter_supported"`
	RequestParameter      bool     `json:"request_parameter_supported"`
	RequestURIParameter   bool     `json:"request_uri_parameter_supported"`
	IssParameter          bool     `json:"authorization_response_iss_parameter_supported"`
	// DeviceAuthorizationEndpoint is set when Config.DeviceFlow is (RFC 8628, 4).
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
}

// serveDiscovery publishes the provider metadata.
func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	m := metadata{
		Issuer:                p.issuer,
		AuthorizationEndpoint: p.endpoint(authorizePath),
		TokenEndpoint:         p.endpoint(tokenPath),
		UserinfoEndpoint:      p.endpoint(userinfoPath),
		JWKSURI:               p.endpoint(keysPath),
		EndSessionEndpoint:    p.endpoint(logoutPath),
		ScopesSupported:       supportedScopes,
		ResponseTypes:         []string{"code"},
		ResponseModes:         []string{"query"},
		GrantTypes:            []string{"authorization_code"},
		SubjectTypes:          []string{"public"},
		IDTokenAlgs:           []string{"RS256"},
		TokenAuthMethods:      []string{authBasic, authPost},
		CodeChallengeMethods:  []string{"S256"},
		ClaimsSupported:       p.claimsSupported(),
		IssParameter:          true,
	}
	p.announceDevice(&m)
	writeJSON(w, http.StatusOK, m)
}
