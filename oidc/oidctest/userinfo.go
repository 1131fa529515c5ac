package oidctest

import (
	"net/http"
	"strings"
)

// serveUserinfo returns the claims of the user an access token stands for.
// The token must come in the Authorization header (RFC 6750 section 2.1).
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="oidctest"`)
		http.Error(w, "access token required", http.StatusUnauthorized)
		return
	}
	scheme, token, _ := strings.Cut(auth, " ")
	g := p.store.grant(token, p.now())
	if !strings.EqualFold(scheme, "Bearer") || g == nil {
		w.Header().Set("WWW-Authenticate",
			`Bearer realm="oidctest", error="invalid_token", `+
				`error_description="the access token is invalid or expired"`)
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return
	}

	claims := userClaims(g.user, g.scopes)
	if p.cfg.EditUserinfo != nil {
		p.cfg.EditUserinfo(claims)
	}
	writeJSON(w, http.StatusOK, claims)
}
