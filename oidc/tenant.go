package oidc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// tenantPlaceholder stands for the tenant id in the issuer that Microsoft Entra ID's
// "organizations" and "common" discovery documents announce.
const tenantPlaceholder = "{tenantid}"

var (
	// multiTenantIssuer matches the issuers of the multi-tenant mode.
	multiTenantIssuer = regexp.MustCompile(`^(https?://[^/]+)/(organizations|common)/v2\.0$`)
	// guid matches a tenant id in lowercase.
	guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// fillTenants checks Tenants and Issuer for the multi-tenant mode.
func (s *settings) fillTenants() error {
	m := multiTenantIssuer.FindStringSubmatch(s.Issuer)
	switch {
	case len(s.Tenants) == 0 && m != nil:
		return configError("Issuer " + quote(s.Issuer) + " is multi-tenant: list the " +
			"tenant ids whose users may log in in Tenants, or use the issuer of one tenant")
	case len(s.Tenants) == 0:
		return nil
	case m == nil:
		return configError("Tenants needs the multi-tenant Issuer, such as " +
			"https://login.microsoftonline.com/organizations/v2.0, not " + quote(s.Issuer))
	}
	s.tenantIssuer = m[1] + "/" + tenantPlaceholder + "/v2.0"
	s.tenants = make(map[string]bool, len(s.Tenants))
	for _, t := range s.Tenants {
		t = strings.ToLower(t)
		if !guid.MatchString(t) {
			return configError("Tenants lists " + quote(t) + ", which is not a tenant id " +
				"(a GUID)")
		}
		s.tenants[t] = true
	}
	return nil
}

// discoveryContext lets discovery of a multi-tenant issuer accept the issuer it announces
// with the placeholder; checkTenantDiscovery then compares that issuer exactly.
func (s *settings) discoveryContext(ctx context.Context) context.Context {
	if s.tenantIssuer == "" {
		return ctx
	}
	return gooidc.InsecureIssuerURLContext(ctx, s.tenantIssuer)
}

// checkTenantDiscovery requires a multi-tenant discovery document to announce the issuer
// with the tenant placeholder.
func (s *settings) checkTenantDiscovery(announced string) error {
	if s.tenantIssuer == "" || announced == s.tenantIssuer {
		return nil
	}
	return newError(ErrDiscovery, "issuer_mismatch", msgDiscovery, fmt.Sprintf(
		"the multi-tenant issuer %s announces the issuer %s in its discovery document, "+
			"not %s", quote(s.Issuer), quote(announced), quote(s.tenantIssuer)), nil)
}

// checkTenant is the issuer check of the multi-tenant mode: the token's tid must be a
// listed tenant and its iss the tenant's issuer. what names the token in errors.
func (s *settings) checkTenant(claims map[string]any, what string) error {
	if s.tenantIssuer == "" {
		return nil
	}
	tid, _ := claims["tid"].(string)
	if !s.tenants[tid] {
		return verifyError("tenant_not_allowed", fmt.Sprintf("the %s is from the tenant %s, "+
			"which is not listed in the tenants", what, quote(tid)), nil)
	}
	want := strings.Replace(s.tenantIssuer, tenantPlaceholder, tid, 1)
	if iss, _ := claims["iss"].(string); iss != want {
		return verifyError("issuer_mismatch", fmt.Sprintf("the %s's iss %s is not the "+
			"issuer %s of its tenant", what, quote(iss), quote(want)), nil)
	}
	return nil
}

// newTenantVerifier returns the ID token verifier of the multi-tenant mode, which leaves
// the issuer to checkTenant, or nil outside that mode.
func newTenantVerifier(s *settings, jwks gooidc.KeySet) *gooidc.IDTokenVerifier {
	if s.tenantIssuer == "" {
		return nil
	}
	return newVerifier(s, jwks, true)
}

// idTokenVerifier returns the verifier for ID tokens. In the multi-tenant mode it does
// not check the issuer: the caller must call settings.checkTenant on the claims.
func (rp *RelyingParty) idTokenVerifier() *gooidc.IDTokenVerifier {
	if rp.tenantVerifier != nil {
		return rp.tenantVerifier
	}
	return rp.verifier
}

// refuseAll is the key set of a verifier that must not be used in the multi-tenant mode,
// where the issuer depends on the token's tenant.
type refuseAll struct{}

func (refuseAll) VerifySignature(context.Context, string) ([]byte, error) {
	return nil, errors.New("oidc: in the multi-tenant mode tokens are verified with " +
		"their tenant's issuer (idTokenVerifier and checkTenant)")
}
