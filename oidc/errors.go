package oidc

import (
	"errors"
	"strconv"
	"strings"
)

// Error kinds a caller can branch on with errors.Is. Every error this package returns from
// New, Exchange and Userinfo is an *Error whose Kind is one of these.
var (
	// ErrConfig means the Config is invalid; New refuses to start.
	ErrConfig = errors.New("oidc: invalid configuration")
	// ErrDiscovery means the provider's discovery document could not be loaded or does not
	// fit the Config (issuer mismatch, missing endpoints, no usable client auth method).
	ErrDiscovery = errors.New("oidc: discovery failed")
	// ErrExchange means the token request could not be made or its answer was unusable
	// (network failure, no id_token). The code may or may not have been spent.
	ErrExchange = errors.New("oidc: token request failed")
	// ErrProvider means the provider answered the token request with an OAuth error,
	// such as invalid_grant for a spent or expired code.
	ErrProvider = errors.New("oidc: the provider refused the token request")
	// ErrVerify means the ID token failed a check: signature, algorithm, issuer,
	// audience, azp, subject or times.
	ErrVerify = errors.New("oidc: id token verification failed")
	// ErrNonce means the ID token's nonce is missing, null, not a string or not the one
	// sent with the authorization request.
	ErrNonce = errors.New("oidc: id token nonce check failed")
	// ErrUserinfo means the userinfo request failed or its answer was refused.
	ErrUserinfo = errors.New("oidc: userinfo failed")
)

// Error is the error type of this package. Its zero value is not meaningful; the package
// builds every Error it returns.
//
// Message is safe to show in a browser. Detail is meant for the log. Neither ever holds an
// authorization code, a token, the client secret or a raw response body.
type Error struct {
	// Kind is one of the Err* values above; errors.Is matches it.
	Kind error
	// Reason is a short stable label for logs and metrics, such as "nonce_missing".
	Reason string
	// Message is a short sentence fit for an end user.
	Message string
	// Detail says what went wrong, for operators.
	Detail string
	// Err is the underlying cause, if any; errors.Is and errors.As reach it.
	Err error
}

// Error returns the package prefix, the reason and the detail.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oidc: ")
	b.WriteString(e.Reason)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Safe messages shown to end users, one per situation.
const (
	msgConfig    = "the sign-in service is not configured correctly"
	msgDiscovery = "the identity provider's configuration could not be loaded"
	msgExchange  = "the identity provider could not be reached to finish the login"
	msgCode      = "the identity provider rejected the login code"
	msgClient    = "the identity provider rejected this application's credentials"
	msgRefused   = "the identity provider refused the login"
	msgVerify    = "the identity provider's answer could not be verified"
	msgNonce     = "the login answer does not belong to this login attempt"
	msgUserinfo  = "the user's details could not be fetched from the identity provider"
)

func newError(kind error, reason, message, detail string, cause error) *Error {
	return &Error{Kind: kind, Reason: reason, Message: message, Detail: detail, Err: cause}
}

func configError(detail string) *Error {
	return newError(ErrConfig, "config", msgConfig, detail, nil)
}

func verifyError(reason, detail string, cause error) *Error {
	return newError(ErrVerify, reason, msgVerify, detail, cause)
}

func nonceError(reason, detail string) *Error {
	return newError(ErrNonce, reason, msgNonce, detail, nil)
}

func userinfoError(reason, detail string, cause error) *Error {
	return newError(ErrUserinfo, reason, msgUserinfo, detail, cause)
}

// bounded shortens text from a remote party before it goes into a Detail.
func bounded(s string) string {
	const limit = 200
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}

// quote bounds and quotes a value for a Detail, escaping control characters.
func quote(s string) string {
	return strconv.Quote(bounded(s))
}
