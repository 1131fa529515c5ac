package oidc

// ResponseIssuerRequired reports whether the provider's discovery document announces
// authorization_response_iss_parameter_supported (RFC 9207): its authorization responses
// then carry an iss parameter, and one without it must be refused.
func (rp *RelyingParty) ResponseIssuerRequired() bool {
	var meta struct {
		Supported bool `json:"authorization_response_iss_parameter_supported"`
	}
	return rp.provider.Claims(&meta) == nil && meta.Supported
}
