package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The OAuth 2.0 Device Authorization Grant (RFC 8628), for a client that cannot receive a
// redirect: StartDevice asks the provider for a device code and a user code, the person
// enters the user code at the provider, and PollDevice asks the token endpoint, once per
// call, whether the person has done so.

const deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// Error kinds of the device grant, for errors.Is. StartDevice and PollDevice return *Error
// values whose Kind is one of these or one of ErrExchange, ErrProvider, ErrVerify.
var (
	// ErrDeviceUnsupported means the provider's discovery document names no
	// device_authorization_endpoint.
	ErrDeviceUnsupported = errors.New("oidc: the provider offers no device authorization")
	// ErrDevicePending means the person has not answered yet: the Reason is
	// authorization_pending, or slow_down when the polls must be 5 seconds further apart.
	ErrDevicePending = errors.New("oidc: the device authorization is pending")
	// ErrDeviceDenied means the person refused the authorization (access_denied).
	ErrDeviceDenied = errors.New("oidc: the device authorization was denied")
	// ErrDeviceExpired means the device code expired before the person answered
	// (expired_token).
	ErrDeviceExpired = errors.New("oidc: the device code expired")
)

const (
	msgDeviceUnsupported = "the identity provider does not offer sign-in with a code"
	msgDevicePending     = "the sign-in with the code has not been completed yet"
	msgDeviceDenied      = "the sign-in with the code was denied"
	msgDeviceExpired     = "the code expired before the sign-in was completed"
)

// defaultDeviceInterval is the wait between polls when the provider names none (RFC 8628,
// 3.2).
const defaultDeviceInterval = 5 * time.Second

// maxDeviceBody bounds what is read of a device or token endpoint's answer.
const maxDeviceBody = 1 << 20

// DeviceAuthorization is a device authorization the provider started (RFC 8628, 3.2). The
// zero value holds none.
type DeviceAuthorization struct {
	// DeviceCode names the authorization at the token endpoint. It is a credential of
	// the client: never log it and never hand it out.
	DeviceCode string
	// UserCode is what the person enters at VerificationURI.
	UserCode string
	// VerificationURI is where the person signs in and enters UserCode.
	VerificationURI string
	// VerificationURIComplete is VerificationURI with the user code in it, or "" when the
	// provider sends none.
	VerificationURIComplete string
	// Expiry is when the codes expire; zero when the provider names no lifetime.
	Expiry time.Time
	// Interval is the least wait between two polls: the provider's, or 5 seconds.
	Interval time.Duration
}

// DeviceAuthorizationEndpoint returns discovery's device_authorization_endpoint, or "" when
// it names none or names one that is not https (http only on a loopback host).
func (rp *RelyingParty) DeviceAuthorizationEndpoint() string {
	var meta struct {
		Endpoint string `json:"device_authorization_endpoint"`
	}
	if err := rp.provider.Claims(&meta); err != nil || meta.Endpoint == "" ||
		providerURLProblem(meta.Endpoint) != "" {
		return ""
	}
	return meta.Endpoint
}

// StartDevice asks the provider for a device authorization for the configured scopes, with
// one request that authenticates the client as the token endpoint does.
func (rp *RelyingParty) StartDevice(ctx context.Context) (*DeviceAuthorization, error) {
	endpoint := rp.DeviceAuthorizationEndpoint()
	if endpoint == "" {
		return nil, newError(ErrDeviceUnsupported, "device_unsupported", msgDeviceUnsupported,
			"the discovery document names no usable device_authorization_endpoint", nil)
	}
	started := rp.cfg.Now()
	form := url.Values{"scope": {strings.Join(rp.cfg.Scopes, " ")}}
	status, body, err := rp.clientPost(ctx, endpoint, form)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, rp.deviceError("device authorization endpoint", status, body, "")
	}
	var r struct {
		DeviceCode              string      `json:"device_code"`
		UserCode                string      `json:"user_code"`
		VerificationURI         string      `json:"verification_uri"`
		VerificationURL         string      `json:"verification_url"` // an old draft's name
		VerificationURIComplete string      `json:"verification_uri_complete"`
		ExpiresIn               json.Number `json:"expires_in"`
		Interval                json.Number `json:"interval"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, newError(ErrExchange, "device_response", msgExchange,
			"cannot decode the device authorization response: "+bounded(err.Error()), err)
	}
	if r.VerificationURI == "" {
		r.VerificationURI = r.VerificationURL
	}
	if r.DeviceCode == "" || r.UserCode == "" || r.VerificationURI == "" {
		return nil, newError(ErrExchange, "device_response", msgExchange,
			"the device authorization response lacks device_code, user_code or "+
				"verification_uri", nil)
	}
	d := &DeviceAuthorization{
		DeviceCode:              r.DeviceCode,
		UserCode:                r.UserCode,
		VerificationURI:         r.VerificationURI,
		VerificationURIComplete: r.VerificationURIComplete,
		Interval:                defaultDeviceInterval,
	}
	if n, err := r.ExpiresIn.Int64(); err == nil && n > 0 {
		d.Expiry = started.Add(time.Duration(n) * time.Second)
	}
	if n, err := r.Interval.Int64(); err == nil && n > 0 && n < 3600 {
		d.Interval = time.Duration(n) * time.Second
	}
	return d, nil
}

// PollDevice makes one device access token request (RFC 8628, 3.4) for deviceCode. While
// the person has not answered it returns an error of kind ErrDevicePending; once they have
// signed in it verifies the ID token as Exchange does, except for the nonce, which the
// device grant does not carry, and returns the login.
func (rp *RelyingParty) PollDevice(ctx context.Context, deviceCode string) (*Login, error) {
	if deviceCode == "" {
		return nil, newError(ErrExchange, "missing_input", msgExchange,
			"PollDevice needs a device code", nil)
	}
	form := url.Values{"grant_type": {deviceGrantType}, "device_code": {deviceCode}}
	status, body, err := rp.clientPost(ctx, rp.oauth.Endpoint.TokenURL, form)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, rp.deviceError("token endpoint", status, body, deviceCode)
	}
	token, raw, err := deviceToken(body, rp.cfg.Now())
	if err != nil {
		return nil, err
	}
	ctx = gooidc.ClientContext(ctx, rp.cfg.HTTPClient)
	claims, expiry, err := rp.verifyIDToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	return &Login{
		Subject:    claims["sub"].(string),
		Claims:     claims,
		RawIDToken: raw,
		Token:      token,
		Expiry:     expiry,
	}, nil
}

// deviceToken reads a successful token response into an oauth2.Token that carries the
// id_token as an extra, as x/oauth2 would, and returns the raw ID token.
func deviceToken(body []byte, now time.Time) (*oauth2.Token, string, error) {
	var r struct {
		AccessToken  string      `json:"access_token"`
		TokenType    string      `json:"token_type"`
		RefreshToken string      `json:"refresh_token"`
		ExpiresIn    json.Number `json:"expires_in"`
		IDToken      string      `json:"id_token"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.AccessToken == "" {
		return nil, "", newError(ErrExchange, "token_response", msgExchange,
			"the token response is not JSON with an access_token", err)
	}
	if r.IDToken == "" {
		return nil, "", newError(ErrExchange, "no_id_token", msgExchange,
			"the token response has no id_token; is the openid scope allowed for this "+
				"client?", nil)
	}
	t := &oauth2.Token{AccessToken: r.AccessToken, TokenType: r.TokenType,
		RefreshToken: r.RefreshToken}
	if n, err := r.ExpiresIn.Int64(); err == nil && n > 0 {
		t.Expiry = now.Add(time.Duration(n) * time.Second)
	}
	return t.WithExtra(map[string]any{"id_token": r.IDToken}), r.IDToken, nil
}

// clientPost sends form to endpoint with the client's authentication, as the token
// endpoint expects it, and returns the status and at most 1 MiB of the body.
func (rp *RelyingParty) clientPost(ctx context.Context, endpoint string, form url.Values) (
	int, []byte, error) {
	id, secret := rp.cfg.ClientID, rp.cfg.ClientSecret
	switch rp.authMethod {
	case AuthMethodPost:
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	case AuthMethodPrivateKeyJWT:
		a, err := rp.cfg.ClientKey.assertion(id, rp.oauth.Endpoint.TokenURL, rp.cfg.Now())
		if err != nil {
			return 0, nil, newError(ErrExchange, "client_assertion", msgExchange, err.Error(), err)
		}
		form.Set("client_id", id)
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", a)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint,
		strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, newError(ErrExchange, "request", msgExchange, bounded(err.Error()), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if rp.authMethod == AuthMethodBasic {
		// RFC 6749, 2.3.1: both parts form-encoded, as x/oauth2 sends them.
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := rp.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, newError(ErrExchange, "request", msgExchange,
			"request to "+endpointName(endpoint)+" failed: "+bounded(err.Error()), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDeviceBody))
	if err != nil {
		return 0, nil, newError(ErrExchange, "request", msgExchange,
			"reading the answer of "+endpointName(endpoint)+": "+bounded(err.Error()), err)
	}
	return resp.StatusCode, body, nil
}

// endpointName is an endpoint's host and path, for a Detail.
func endpointName(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return quote(u.Host + u.Path)
	}
	return "the endpoint"
}

// deviceError turns an OAuth error answer into an *Error whose kind a caller can branch on.
// The device code and the client secret are cut out of the provider's description.
func (rp *RelyingParty) deviceError(what string, status int, body []byte, deviceCode string) error {
	var r struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Code == "" {
		return newError(ErrExchange, "device_response", msgExchange,
			fmt.Sprintf("the %s answered %d without an OAuth error", what, status), nil)
	}
	detail := fmt.Sprintf("the %s answered %d, error %s", what, status, quote(r.Code))
	if desc := r.Description; desc != "" {
		if deviceCode != "" {
			desc = strings.ReplaceAll(desc, deviceCode, "[device_code]")
		}
		if s := rp.cfg.ClientSecret; s != "" {
			desc = strings.ReplaceAll(desc, s, "[secret]")
		}
		detail += ", description " + quote(desc)
	}
	switch r.Code {
	case "authorization_pending", "slow_down":
		return newError(ErrDevicePending, r.Code, msgDevicePending, detail, nil)
	case "access_denied":
		return newError(ErrDeviceDenied, r.Code, msgDeviceDenied, detail, nil)
	case "expired_token":
		return newError(ErrDeviceExpired, r.Code, msgDeviceExpired, detail, nil)
	case "invalid_client", "unauthorized_client":
		return newError(ErrProvider, r.Code, msgClient,
			detail+"; check the client id, the secret and that the client may use the "+
				"device grant", nil)
	case "invalid_grant":
		return newError(ErrProvider, r.Code, msgCode, detail, nil)
	}
	return newError(ErrProvider, "token_endpoint", msgRefused, detail, nil)
}
