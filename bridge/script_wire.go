package bridge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// What the command-line endpoints under <public_url>/cli/ send and receive, as JSON. The
// command (qlik-oidc-bridge login) speaks it through ScriptClient.

// Error codes of the command-line endpoints, in ScriptError.Code.
const (
	// ScriptErrDisabled: script logins are off (scripts.enabled is false).
	ScriptErrDisabled = "scripts_disabled"
	// ScriptErrUnknownProxy: the virtual proxy is not configured, or scripts may not use it.
	ScriptErrUnknownProxy = "unknown_proxy"
	// ScriptErrInvalidRequest: a parameter is missing or malformed.
	ScriptErrInvalidRequest = "invalid_request"
	// ScriptErrInvalidGrant: the code or handle is not valid, expired, used already, or
	// the code verifier does not match the challenge it was started with.
	ScriptErrInvalidGrant = "invalid_grant"
	// ScriptErrPending: the person has not entered the user code yet; poll again.
	ScriptErrPending = "authorization_pending"
	// ScriptErrSlowDown: poll again, 5 seconds further apart than before.
	ScriptErrSlowDown = "slow_down"
	// ScriptErrExpired: the device code expired before the person entered it.
	ScriptErrExpired = "expired_token"
	// ScriptErrDenied: the person cancelled the sign-in at the identity provider.
	ScriptErrDenied = "access_denied"
	// ScriptErrRefused: the user signed in, but the virtual proxy's access rules or
	// mapping refuse them.
	ScriptErrRefused = "refused"
	// ScriptErrNoDevice: the device authorization grant is not available here.
	ScriptErrNoDevice = "device_unavailable"
	// ScriptErrProvider: the identity provider failed.
	ScriptErrProvider = "idp_error"
	// ScriptErrQlik: the Qlik proxy did not take the session.
	ScriptErrQlik = "qlik_error"
)

// ScriptError is the body of every refusal of the command-line endpoints, and the error
// ScriptClient returns for one. The zero value is an error without a code.
type ScriptError struct {
	// Code is one of the ScriptErr* constants.
	Code string `json:"error"`
	// Description says what happened, for the person at the command line.
	Description string `json:"error_description,omitempty"`
	// Reference ties the answer to the bridge's log.
	Reference string `json:"reference,omitempty"`
	// Status is the HTTP status of the answer; it is not sent in the body.
	Status int `json:"-"`
}

// Error returns the code and the description.
func (e *ScriptError) Error() string {
	msg := "bridge: " + e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.Reference != "" {
		msg += " (reference " + e.Reference + ")"
	}
	return msg
}

// ScriptInfo is what GET <public_url>/cli/config tells a command. The zero value offers
// nothing.
type ScriptInfo struct {
	// Proxies are the virtual proxies a script may log in to; the first is the default.
	Proxies []ScriptProxy `json:"proxies"`
	// DeviceFlow is true when the identity provider offers the device authorization grant
	// and the bridge allows it.
	DeviceFlow bool `json:"device_flow"`
	// BrowserFlow is true when a login in a browser returning to the command works.
	BrowserFlow bool `json:"browser_flow"`
}

// ScriptProxy is a virtual proxy as a command sees it. The zero value is the default
// virtual proxy without a URL.
type ScriptProxy struct {
	// Prefix is the virtual proxy's prefix; "" is the default virtual proxy.
	Prefix string `json:"prefix"`
	// QlikURL is where the virtual proxy is reached, ending in "/".
	QlikURL string `json:"qlik_url"`
}

// ScriptDevice is a started device login. The zero value is none.
type ScriptDevice struct {
	// Handle names the login at the bridge. It is sealed: it holds the identity provider's
	// device code, which never leaves the bridge in the clear, and it is useless without
	// the code verifier whose challenge started the login.
	Handle string `json:"handle"`
	// UserCode is what the person enters at VerificationURI.
	UserCode string `json:"user_code"`
	// VerificationURI is where the person signs in.
	VerificationURI string `json:"verification_uri"`
	// VerificationURIComplete is VerificationURI with the user code in it, or "".
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	// ExpiresIn is how many seconds the user code stays valid.
	ExpiresIn int64 `json:"expires_in"`
	// Interval is the least number of seconds between two polls.
	Interval int64 `json:"interval"`
}

// ScriptSession is the Qlik proxy session a command receives: the only thing that leaves
// the bridge, never a token of the identity provider. The zero value is no session.
type ScriptSession struct {
	// Proxy is the virtual proxy's prefix.
	Proxy string `json:"proxy"`
	// QlikURL is the virtual proxy's URL, ending in "/".
	QlikURL string `json:"qlik_url"`
	// CookieName is the virtual proxy's session cookie name, with "-HTTP" over http.
	CookieName string `json:"cookie_name"`
	// CookieValue is the proxy session id. It is a credential: whoever holds it acts as
	// the user until the session ends.
	CookieValue string `json:"cookie_value"`
	// CookieDomain is the virtual proxy's session cookie domain, or Qlik's host name when
	// the cookie is host-only (HostOnly).
	CookieDomain string `json:"cookie_domain"`
	// HostOnly is true when the cookie is sent to exactly CookieDomain, not its subdomains.
	HostOnly bool `json:"host_only"`
	// CookiePath is "/".
	CookiePath string `json:"cookie_path"`
	// Secure is true when Qlik is reached over https.
	Secure bool `json:"secure"`
	// Expires estimates when the session ends if it is not used: Qlik ends a session
	// after an inactivity timeout (scripts.session_timeout at the bridge), and every
	// request through the proxy starts it anew.
	Expires time.Time `json:"expires"`
	// UserDirectory and UserID name the Qlik user.
	UserDirectory string `json:"user_directory"`
	UserID        string `json:"user_id"`
}

// scriptStartRequest starts a device login.
type scriptStartRequest struct {
	Proxy     string `json:"proxy"`
	Challenge string `json:"code_challenge"`
}

// scriptTokenRequest redeems a code of the browser way, or polls a device login.
type scriptTokenRequest struct {
	Code     string `json:"code,omitempty"`
	Handle   string `json:"handle,omitempty"`
	Verifier string `json:"code_verifier"`
}

// scriptSessionRequest names a session the command holds, to check or end it.
type scriptSessionRequest struct {
	Proxy     string `json:"proxy"`
	SessionID string `json:"session_id"`
}

// scriptSessionState says whether a session is alive.
type scriptSessionState struct {
	Alive   bool      `json:"alive"`
	Expires time.Time `json:"expires,omitzero"`
}

// NewScriptVerifier returns a fresh code verifier (32 random bytes, base64url) and its
// S256 challenge, as PKCE makes them (RFC 7636). A command sends the challenge when it
// starts a login and the verifier when it finishes it, so that nothing seen in between
// can finish the login for someone else.
func NewScriptVerifier() (verifier, challenge string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("bridge: random: %w", err)
	}
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	return verifier, ScriptChallenge(verifier), nil
}

// ScriptChallenge returns the S256 challenge of a code verifier.
func ScriptChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
