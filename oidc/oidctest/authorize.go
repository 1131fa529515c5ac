package oidctest

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Client authentication methods at the token endpoint.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
)

// maxParamLen bounds state and nonce, which the provider keeps in memory.
const maxParamLen = 2048

// authError is a refused authorization request. With a trusted redirect
// URI it goes back to the client; without one it is shown to the person.
type authError struct {
	code, description string
}

// serveAuthorize validates an authorization request (query for GET, form
// body for POST) and shows the login form.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	params, err := authParams(w, r)
	if err != nil {
		p.showError(w, http.StatusBadRequest, "The authorization request could not be read.")
		return
	}

	// Without a known client and its exact redirect URI nothing may be
	// sent anywhere: the person sees an error page.
	client, redirectURI, msg := p.trustedRedirect(params)
	if msg != "" {
		p.showError(w, http.StatusBadRequest, msg)
		return
	}

	state := params.Get("state")
	if len(params["state"]) > 1 {
		state = ""
	}
	req, aerr := p.checkAuthRequest(params)
	if aerr != nil {
		p.redirectError(w, r, redirectURI, state, aerr)
		return
	}
	req.client, req.redirectURI, req.state = client, redirectURI, state

	handle := p.store.addPending(req, p.now())
	p.showLogin(w, http.StatusOK, loginPage{
		Handle: handle, ClientID: client.ID, Username: req.loginHint,
	})
}

// authParams returns the parameters of an authorization request.
func authParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method == http.MethodGet {
		return url.ParseQuery(r.URL.RawQuery)
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// trustedRedirect returns the client and its registered redirect URI named
// by params, or a message for the person when there is none.
func (p *Provider) trustedRedirect(params url.Values) (*Client, string, string) {
	if len(params["client_id"]) != 1 || len(params["redirect_uri"]) != 1 {
		return nil, "", "The request must name one client_id and one redirect_uri."
	}
	client := p.clients[params.Get("client_id")]
	if client == nil {
		return nil, "", "The client is not registered."
	}
	redirectURI := params.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		return nil, "", "The redirect_uri is not registered for this client."
	}
	return client, redirectURI, ""
}

// checkAuthRequest checks the parameters other than client_id,
// redirect_uri and state, and returns the request they describe.
func (p *Provider) checkAuthRequest(params url.Values) (*authRequest, *authError) {
	for name, values := range params {
		if len(values) > 1 {
			return nil, &authError{"invalid_request", repeated(name)}
		}
	}
	if e := checkUnsupported(params); e != nil {
		return nil, e
	}
	switch rt := params.Get("response_type"); {
	case rt == "":
		return nil, &authError{"invalid_request", "response_type is required"}
	case rt != "code":
		return nil, &authError{"unsupported_response_type", "only response_type code is supported"}
	}
	if rm := params.Get("response_mode"); rm != "" && rm != "query" {
		return nil, &authError{"invalid_request", "only response_mode query is supported"}
	}
	scopes := strings.Fields(params.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		return nil, &authError{"invalid_scope", "scope must include openid"}
	}
	if e := checkPrompt(params.Get("prompt")); e != nil {
		return nil, e
	}
	challenge, e := checkChallenge(params)
	if e != nil {
		return nil, e
	}
	nonce := params.Get("nonce")
	if len(nonce) > maxParamLen || len(params.Get("state")) > maxParamLen {
		return nil, &authError{"invalid_request", "state or nonce is too long"}
	}
	return &authRequest{
		nonce:     nonce,
		scopes:    grantedScopes(scopes),
		challenge: challenge,
		loginHint: params.Get("login_hint"),
	}, nil
}

// checkUnsupported refuses the optional request features the provider
// does not implement, with the errors OpenID Connect Core 1.0 defines.
func checkUnsupported(params url.Values) *authError {
	switch {
	case params.Has("request"):
		return &authError{"request_not_supported", "request objects are not supported"}
	case params.Has("request_uri"):
		return &authError{"request_uri_not_supported", "request_uri is not supported"}
	case params.Has("registration"):
		return &authError{"registration_not_supported", "registration is not supported"}
	}
	return nil
}

// checkPrompt refuses prompt=none: the provider keeps no sessions, so a
// login always needs the form.
func checkPrompt(prompt string) *authError {
	values := strings.Fields(prompt)
	if !slices.Contains(values, "none") {
		return nil
	}
	if len(values) > 1 {
		return &authError{"invalid_request", "prompt none cannot be combined"}
	}
	return &authError{"login_required", "the user must sign in"}
}

// checkChallenge requires an RFC 7636 S256 code challenge and returns it.
func checkChallenge(params url.Values) (string, *authError) {
	challenge := params.Get("code_challenge")
	if challenge == "" {
		return "", &authError{"invalid_request", "code_challenge is required"}
	}
	if params.Get("code_challenge_method") != "S256" {
		return "", &authError{"invalid_request", "code_challenge_method must be S256"}
	}
	if len(challenge) != 43 || !isBase64URL(challenge) {
		return "", &authError{"invalid_request", "code_challenge is malformed"}
	}
	return challenge, nil
}

// repeated describes a repeated parameter, naming it only when the name
// is safe to echo in an error_description.
func repeated(name string) string {
	for _, c := range []byte(name) {
		if c != '_' && (c < 'a' || c > 'z') {
			return "a parameter is repeated"
		}
	}
	return "parameter " + name + " is repeated"
}

func isBase64URL(s string) bool {
	for _, c := range []byte(s) {
		if !isBase64URLByte(c) {
			return false
		}
	}
	return true
}

func isBase64URLByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_'
}

// serveLogin handles the login form: cancel, a wrong password, or a
// successful sign-in that sends the code to the client.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.showError(w, http.StatusBadRequest, "The login form could not be read.")
		return
	}
	handle := r.PostForm.Get("request")
	now := p.now()

	if r.PostForm.Get("action") == "deny" {
		req := p.store.takePending(handle, now)
		if req == nil {
			p.showError(w, http.StatusBadRequest, expiredMessage)
			return
		}
		deny := &authError{"access_denied", "the user cancelled the login"}
		p.redirectError(w, r, req.redirectURI, req.state, deny)
		return
	}

	req := p.store.pendingRequest(handle, now)
	if req == nil {
		p.showError(w, http.StatusBadRequest, expiredMessage)
		return
	}
	username := r.PostForm.Get("username")
	user := p.checkPassword(username, r.PostForm.Get("password"))
	if user == nil {
		if !p.store.failPending(handle) {
			p.showError(w, http.StatusBadRequest, "Too many failed attempts. "+expiredMessage)
			return
		}
		p.showLogin(w, http.StatusOK, loginPage{
			Handle: handle, ClientID: req.client.ID, Username: username,
			Message: "The username or password is wrong.",
		})
		return
	}

	// The request is used once: a second post of the same form fails.
	if p.store.takePending(handle, now) == nil {
		p.showError(w, http.StatusBadRequest, expiredMessage)
		return
	}
	code := p.store.addCode(req, user, now)
	p.redirect(w, r, req.redirectURI, url.Values{"code": {code}, "state": {req.state}})
}

const expiredMessage = "The login request is unknown or has expired. " +
	"Go back to the application and start again."

// checkPassword returns the user whose credentials match, or nil.
func (p *Provider) checkPassword(username, password string) *account {
	a := p.users[username]
	want := "\x00no user" // compared anyway, so timing does not reveal usernames
	if a != nil {
		want = a.password
	}
	got, exp := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(got[:], exp[:]) != 1 || a == nil {
		return nil
	}
	return a
}

// redirectError sends an authorization error back to the client.
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request,
	redirectURI, state string, e *authError) {
	p.redirect(w, r, redirectURI, url.Values{
		"error":             {e.code},
		"error_description": {e.description},
		"state":             {state},
	})
}

// redirect sends the browser to redirectURI with params and the issuer
// (RFC 9207) added to its query; an empty state is left out. The query
// the client registered is kept as it is.
func (p *Provider) redirect(w http.ResponseWriter, r *http.Request,
	redirectURI string, params url.Values) {
	if params.Get("state") == "" {
		params.Del("state")
	}
	params.Set("iss", p.issuer)
	u, _ := url.Parse(redirectURI) // checked by New
	sep := "?"
	switch {
	case u.RawQuery != "":
		sep = "&"
	case u.ForceQuery:
		sep = ""
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, redirectURI+sep+params.Encode(), status)
}
