package oidctest

import (
	"bytes"
	"encoding/json"
	"slices"
)

// supportedScopes are the scopes the provider grants; others are ignored.
var supportedScopes = []string{"openid", "profile", "email", "address", "phone"}

// scopeOfClaim maps each standard claim of OpenID Connect Core 1.0,
// section 5.4, to the scope that releases it. Claims not listed here are
// always released.
var scopeOfClaim = map[string]string{
	"name": "profile", "family_name": "profile", "given_name": "profile",
	"middle_name": "profile", "nickname": "profile", "preferred_username": "profile",
	"profile": "profile", "picture": "profile", "website": "profile",
	"gender": "profile", "birthdate": "profile", "zoneinfo": "profile",
	"locale": "profile", "updated_at": "profile",
	"email": "email", "email_verified": "email",
	"address":      "address",
	"phone_number": "phone", "phone_number_verified": "phone",
}

// reservedClaims are set by the provider and cannot come from a User.
var reservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"jti": true, "auth_time": true, "nonce": true, "azp": true, "at_hash": true,
	"c_hash": true, "sid": true,
}

// grantedScopes returns the supported scopes among requested, in the
// order of supportedScopes.
func grantedScopes(requested []string) []string {
	var granted []string
	for _, s := range supportedScopes {
		if slices.Contains(requested, s) {
			granted = append(granted, s)
		}
	}
	return granted
}

// userClaims returns sub and the user's claims that scopes release, each
// a fresh copy the caller may change.
func userClaims(a *account, scopes []string) map[string]any {
	claims := map[string]any{"sub": a.subject}
	for name, raw := range a.claims {
		if scope, ok := scopeOfClaim[name]; ok && !slices.Contains(scopes, scope) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil { // raw was produced by json.Marshal
			claims[name] = v
		}
	}
	return claims
}

// claimsSupported lists the claims the provider can release, sorted.
func (p *Provider) claimsSupported() []string {
	names := []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"}
	for _, a := range p.users {
		for name := range a.claims {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}
