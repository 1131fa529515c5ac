package oidc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// newAccessTokenVerifier builds the verifier of JWT access tokens: the provider's JWKS
// with the allowed asymmetric algorithms (never HS256, whose key is the client's own
// secret), the issuer as for ID tokens, and no audience check, since an access token is
// meant for a resource server (checkIssuedTo checks the client instead). It returns nil
// when SigningAlgs lists no asymmetric algorithm.
func newAccessTokenVerifier(s *settings, jwks gooidc.KeySet) *gooidc.IDTokenVerifier {
	algs := slices.DeleteFunc(slices.Clone(s.SigningAlgs), func(a string) bool {
		return a == algHS256
	})
	if len(algs) == 0 {
		return nil
	}
	return gooidc.NewVerifier(s.Issuer, jwks, &gooidc.Config{
		SkipClientIDCheck:    true,
		SupportedSigningAlgs: algs,
		SkipExpiryCheck:      true,
		SkipIssuerCheck:      s.tenantIssuer != "", // checkTenant does it
		Now:                  s.Now,
	})
}

// AccessTokenClaims returns the claims of login's access token when it is a JWT signed by
// the provider, as Keycloak's are (its roles ride there). An access token that is not a
// JWT returns nil claims and no error: it is meant for the provider alone.
//
// A JWT is checked like the ID token: signature against the provider's keys with the
// allowed algorithms (HS256 never), issuer, exp and iat with Leeway. It must have been
// issued to this client (azp or client_id is ClientID, or ClientID is in aud) and be about
// the same user (its sub, when present, is login.Subject). A failed check wraps ErrVerify.
func (rp *RelyingParty) AccessTokenClaims(ctx context.Context, login *Login) (
	map[string]any, error) {
	if login == nil || login.Token == nil {
		return nil, accessTokenError("no_login", "AccessTokenClaims needs a login with a token",
			nil)
	}
	raw := login.Token.AccessToken
	if strings.Count(raw, ".") != 2 {
		return nil, nil
	}
	if rp.atVerifier == nil {
		return nil, accessTokenError("alg_not_allowed", "the signing algorithms list no "+
			"asymmetric algorithm to verify access tokens with", nil)
	}
	ctx = gooidc.ClientContext(ctx, rp.cfg.HTTPClient)
	token, err := rp.atVerifier.Verify(ctx, raw)
	if err != nil {
		return nil, accessTokenError("invalid", bounded(err.Error()), err)
	}
	claims, err := decodeClaims(token)
	if err != nil {
		return nil, accessTokenError("claims", err.Error(), err)
	}
	if err := rp.cfg.checkTenant(claims, "access token"); err != nil {
		return nil, err
	}
	if _, err := rp.checkTimes(claims, "access token"); err != nil {
		return nil, err
	}
	if err := rp.checkIssuedTo(claims); err != nil {
		return nil, err
	}
	if sub, present := claims["sub"]; present && sub != any(login.Subject) {
		return nil, accessTokenError("sub_mismatch", "the access token's sub differs from "+
			"the ID token's", nil)
	}
	return claims, nil
}

// checkIssuedTo requires an access token to name this client: in azp (OpenID Connect,
// Keycloak), client_id (RFC 9068) or aud.
func (rp *RelyingParty) checkIssuedTo(claims map[string]any) error {
	for _, name := range []string{"azp", "client_id"} {
		if v, present := claims[name]; present {
			if v == any(rp.cfg.ClientID) {
				return nil
			}
			return accessTokenError("client_mismatch", fmt.Sprintf("the access token's %s "+
				"%s is not the client id", name, quote(fmt.Sprint(v))), nil)
		}
	}
	switch aud := claims["aud"].(type) {
	case string:
		if aud == rp.cfg.ClientID {
			return nil
		}
	case []any:
		if slices.Contains(aud, any(rp.cfg.ClientID)) {
			return nil
		}
	}
	return accessTokenError("client_mismatch", "the access token names neither azp, "+
		"client_id nor an aud that is this client", nil)
}

func accessTokenError(reason, detail string, cause error) error {
	return verifyError("access_token_"+reason, detail, cause)
}
