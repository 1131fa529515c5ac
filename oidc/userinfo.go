package oidc

import (
	"context"
	"encoding/json"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// HasUserinfo reports whether the discovery document names a userinfo endpoint.
func (rp *RelyingParty) HasUserinfo() bool {
	return rp.provider.UserInfoEndpoint() != ""
}

// Userinfo fetches the userinfo claims with login's access token. It refuses them when
// their sub is missing or differs from login.Subject. Numbers are json.Number. A signed
// (application/jwt) reply is accepted when its signature checks out against the provider's
// JWKS; its iss and aud are not checked.
func (rp *RelyingParty) Userinfo(ctx context.Context, login *Login) (map[string]any, error) {
	if !rp.HasUserinfo() {
		return nil, userinfoError("no_endpoint",
			"the provider's discovery document names no userinfo endpoint", nil)
	}
	if login == nil || login.Token == nil || login.Subject == "" {
		return nil, userinfoError("no_login", "Userinfo needs a login with a token", nil)
	}
	ctx = gooidc.ClientContext(ctx, rp.cfg.HTTPClient)
	info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(login.Token))
	if err != nil {
		return nil, userinfoError("request", "userinfo request failed: "+bounded(err.Error()),
			err)
	}
	var raw json.RawMessage
	if err := info.Claims(&raw); err != nil {
		return nil, userinfoError("decode", "cannot read userinfo: "+err.Error(), err)
	}
	claims, err := decodeObject(raw)
	if err != nil {
		return nil, userinfoError("decode", "userinfo "+err.Error(), err)
	}

	sub, _ := claims["sub"].(string)
	switch {
	case sub == "":
		return nil, userinfoError("sub_missing", "the userinfo reply has no sub", nil)
	case sub != login.Subject:
		return nil, userinfoError("sub_mismatch", "the userinfo sub "+quote(sub)+
			" differs from the ID token's sub "+quote(login.Subject), nil)
	}
	return claims, nil
}
