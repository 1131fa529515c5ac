package oidctest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenError is an RFC 6749 section 5.2 error response.
type tokenError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	basic       bool   // the client tried HTTP Basic: answer with a challenge
}

// tokenResponse is an RFC 6749 section 5.1 response with an ID token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	IDToken     string `json:"id_token"`
	Scope       string `json:"scope"`
}

// serveToken redeems an authorization code for tokens.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	resp, terr := p.exchange(w, r)
	if terr != nil {
		if terr.basic && terr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="oidctest", charset="UTF-8"`)
		}
		writeJSON(w, terr.status, terr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// exchange runs the authorization code grant of RFC 6749 section 4.1.3.
func (p *Provider) exchange(w http.ResponseWriter, r *http.Request) (*tokenResponse, *tokenError) {
	params, terr := tokenParams(w, r)
	if terr != nil {
		return nil, terr
	}
	client, terr := p.authenticate(r, params)
	if terr != nil {
		return nil, terr
	}
	switch params.Get("grant_type") {
	case "":
		return nil, badRequest("invalid_request", "grant_type is required")
	case "authorization_code":
	default:
		return nil, badRequest("unsupported_grant_type", "only authorization_code is supported")
	}
	if params.Get("code") == "" {
		return nil, badRequest("invalid_request", "code is required")
	}

	// The code is used up by this attempt, whatever its outcome.
	now := p.now()
	code := p.store.redeemCode(params.Get("code"), now)
	if code == nil {
		return nil, badRequest("invalid_grant", "the code is invalid, expired or used")
	}
	if code.req.client != client {
		return nil, badRequest("invalid_grant", "the code was issued to another client")
	}
	if params.Get("redirect_uri") != code.req.redirectURI {
		return nil, badRequest("invalid_grant", "redirect_uri differs from the request")
	}
	if !verifierMatches(params.Get("code_verifier"), code.req.challenge) {
		return nil, badRequest("invalid_grant", "code_verifier does not match the code_challenge")
	}
	return p.issue(code, now)
}

// tokenParams reads the form body of a token request; each parameter may
// appear once.
func tokenParams(w http.ResponseWriter, r *http.Request) (url.Values, *tokenError) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, badRequest("invalid_request", "the body must be form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("invalid_request", "the body could not be parsed")
	}
	for name, values := range r.PostForm {
		if len(values) > 1 {
			return nil, badRequest("invalid_request", repeated(name))
		}
	}
	return r.PostForm, nil
}

// authenticate returns the client that authenticated with the one method
// it is registered for (RFC 6749 section 2.3.1).
func (p *Provider) authenticate(r *http.Request, params url.Values) (*Client, *tokenError) {
	_, hasHeader := r.Header["Authorization"]
	hasSecret := params.Has("client_secret")
	if hasHeader && hasSecret {
		return nil, badRequest("invalid_request", "use one client authentication method")
	}
	method, id, secret := authPost, params.Get("client_id"), params.Get("client_secret")
	if hasHeader {
		method = authBasic
		var ok bool
		if id, secret, ok = basicCredentials(r); !ok {
			return nil, unauthorized("malformed Basic credentials", true)
		}
		if params.Has("client_id") && params.Get("client_id") != id {
			return nil, badRequest("invalid_request", "client_id does not match the credentials")
		}
	}

	client := p.clients[id]
	want := "\x00no client" // compared anyway, so timing does not reveal client ids
	if client != nil {
		want = client.Secret
	}
	got, exp := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(got[:], exp[:]) != 1 || client == nil {
		return nil, unauthorized("client authentication failed", hasHeader)
	}
	if client.AuthMethod != method {
		return nil, unauthorized("the client must use "+client.AuthMethod, hasHeader)
	}
	return client, nil
}

// basicCredentials decodes the client id and secret of an HTTP Basic
// header, each form-urlencoded as RFC 6749 section 2.3.1 requires.
func basicCredentials(r *http.Request) (id, secret string, ok bool) {
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" {
		return "", "", false
	}
	return id, secret, true
}

// verifierMatches checks an RFC 7636 code verifier against an S256
// challenge.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for _, c := range []byte(verifier) {
		if !isBase64URLByte(c) && c != '.' && c != '~' {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// issue creates the access token and the ID token for a redeemed code.
func (p *Provider) issue(code *authCode, now time.Time) (*tokenResponse, *tokenError) {
	req := code.req
	access := p.store.addToken(code, &accessGrant{
		user:    code.user,
		scopes:  req.scopes,
		expires: now.Add(p.tokenTTL),
	}, now)
	idToken, err := p.idToken(code, access, now)
	if err != nil {
		return nil, &tokenError{status: http.StatusInternalServerError,
			Code: "server_error", Description: "the ID token could not be signed"}
	}
	return &tokenResponse{
		AccessToken: access,
		TokenType:   "Bearer",
		ExpiresIn:   int64(p.tokenTTL / time.Second),
		IDToken:     idToken,
		Scope:       strings.Join(req.scopes, " "),
	}, nil
}

// idToken builds and signs the ID token, applying the test hooks.
func (p *Provider) idToken(code *authCode, access string, now time.Time) (string, error) {
	claims := userClaims(code.user, code.req.scopes)
	claims["iss"] = p.issuer
	claims["aud"] = code.req.client.ID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(p.idTTL).Unix()
	claims["auth_time"] = code.authTime.Unix()
	claims["at_hash"] = halfHash(access)
	if code.req.nonce != "" {
		claims["nonce"] = code.req.nonce
	}
	if p.cfg.EditIDToken != nil {
		p.cfg.EditIDToken(claims)
	}
	if p.cfg.SignIDToken != nil {
		return p.cfg.SignIDToken(claims)
	}
	return p.Sign(claims)
}

// halfHash is the at_hash of OpenID Connect Core 1.0 for RS256: the left
// half of the SHA-256 of the token, base64url encoded.
func halfHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

func badRequest(code, description string) *tokenError {
	return &tokenError{status: http.StatusBadRequest, Code: code, Description: description}
}

// unauthorized is an invalid_client error; basic tells whether the client
// tried HTTP Basic and so gets a WWW-Authenticate challenge.
func unauthorized(description string, basic bool) *tokenError {
	status := http.StatusBadRequest
	if basic {
		status = http.StatusUnauthorized
	}
	return &tokenError{status: status, Code: "invalid_client", Description: description,
		basic: basic}
}
