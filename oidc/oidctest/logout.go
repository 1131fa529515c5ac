package oidctest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// serveLogout is the end session endpoint of OpenID Connect RP-Initiated
// Logout 1.0. The provider keeps no sessions, so there is nothing to end:
// it sends the browser to a registered post_logout_redirect_uri, or shows
// a page saying the person is signed out.
func (p *Provider) serveLogout(w http.ResponseWriter, r *http.Request) {
	params, err := authParams(w, r)
	if err != nil {
		p.showError(w, http.StatusBadRequest, "The logout request could not be read.")
		return
	}
	target := params.Get("post_logout_redirect_uri")
	if target == "" {
		p.render(w, http.StatusOK, "message",
			messagePage{"Signed out", "signed-out", "You are signed out."})
		return
	}
	client, msg := p.logoutClient(params)
	if msg == "" && !slices.Contains(client.PostLogoutRedirectURIs, target) {
		msg = "The post_logout_redirect_uri is not registered for this client."
	}
	if msg != "" {
		p.showError(w, http.StatusBadRequest, msg)
		return
	}
	state := url.Values{}
	if s := params.Get("state"); s != "" {
		state.Set("state", s)
	}
	u, _ := url.Parse(target) // checked by New
	sep := "?"
	if u.RawQuery != "" {
		sep = "&"
	}
	if len(state) == 0 {
		sep = ""
	}
	http.Redirect(w, r, target+sep+state.Encode(), http.StatusFound)
}

// logoutClient finds the client of a logout request from client_id or
// from the audience of an id_token_hint this provider signed; when both
// are given they must agree.
func (p *Provider) logoutClient(params url.Values) (*Client, string) {
	id := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		aud, ok := p.hintAudience(hint)
		if !ok {
			return nil, "The id_token_hint was not issued by this provider."
		}
		if id != "" && id != aud {
			return nil, "The client_id does not match the id_token_hint."
		}
		id = aud
	}
	client := p.clients[id]
	if client == nil {
		return nil, "The logout request must name a registered client."
	}
	return client, ""
}

// hintAudience returns the client id an ID token was issued to, after
// checking its signature and issuer. An expired token is a fine hint.
func (p *Provider) hintAudience(hint string) (string, bool) {
	jws, err := jose.ParseSigned(hint, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", false
	}
	payload, err := jws.Verify(&p.key.PublicKey)
	if err != nil {
		return "", false
	}
	var claims struct {
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Iss != p.issuer {
		return "", false
	}
	var aud string
	if json.Unmarshal(claims.Aud, &aud) == nil {
		return aud, true
	}
	var auds []string
	if json.Unmarshal(claims.Aud, &auds) == nil && len(auds) == 1 {
		return auds[0], true
	}
	return "", false
}
