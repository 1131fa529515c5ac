package bridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
)

// maxDeviceLife caps how long a device login may wait for its person, whatever the
// provider allows.
const maxDeviceLife = 30 * time.Minute

// startDevice starts the device way: POST /cli/device with the virtual proxy's prefix and
// the command's S256 code_challenge. The bridge asks the provider for a device
// authorization and hands the command the user code and a sealed handle; the device code
// stays inside the handle.
func (sc *scripts) startDevice(c echo.Context) error {
	if !sc.cfg.Enabled {
		return sc.disabled(c)
	}
	var req scriptStartRequest
	if serr := readJSON(c, &req); serr != nil {
		return sc.failWith(c, serr)
	}
	if !validChallenge(req.Challenge) {
		return sc.fail(c, http.StatusBadRequest, ScriptErrInvalidRequest,
			"code_challenge must be the S256 challenge of a code verifier (43 characters)")
	}
	p := sc.proxy(req.Proxy)
	if p == nil {
		return sc.unknownProxy(c, req.Proxy)
	}
	if !sc.deviceFlow() {
		return sc.fail(c, http.StatusBadRequest, ScriptErrNoDevice,
			"the identity provider does not offer sign-in with a code here; sign in with a "+
				"browser instead")
	}

	s := sc.s
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.OIDC.Timeout)
	defer cancel()
	d, err := s.rp.StartDevice(ctx)
	if err != nil {
		s.log.Error("device authorization failed", "request_id", requestID(c), "err", err)
		return sc.fail(c, http.StatusBadGateway, ScriptErrProvider,
			"the identity provider did not start the sign-in with a code")
	}
	now := s.now()
	expires := now.Add(maxDeviceLife)
	if !d.Expiry.IsZero() && d.Expiry.Before(expires) {
		expires = d.Expiry
	}
	g := scriptGrant{Proxy: p.cfg.Prefix, Challenge: req.Challenge, DeviceCode: d.DeviceCode}
	handle, err := s.sealGrant(purposeDeviceHandle, &g, expires)
	if err != nil {
		return err
	}
	s.log.Info("script device login started", "request_id", requestID(c),
		"proxy", p.cfg.Prefix)
	return c.JSON(http.StatusOK, &ScriptDevice{
		Handle:                  handle,
		UserCode:                d.UserCode,
		VerificationURI:         d.VerificationURI,
		VerificationURIComplete: d.VerificationURIComplete,
		ExpiresIn:               int64(expires.Sub(now) / time.Second),
		Interval:                int64(d.Interval / time.Second),
	})
}

// pollDevice asks the provider once whether the person has signed in and, once they have,
// identifies them as a browser login would and opens their session.
func (sc *scripts) pollDevice(c echo.Context, req *scriptTokenRequest) error {
	s := sc.s
	g, serr := sc.openGrant(purposeDeviceHandle, req.Handle, req.Verifier)
	if serr == nil && g.DeviceCode == "" {
		serr = &ScriptError{Status: http.StatusBadRequest, Code: ScriptErrInvalidGrant,
			Description: "the handle is not one this bridge issued"}
	}
	if serr != nil {
		if serr.Code == ScriptErrExpired {
			return sc.fail(c, serr.Status, serr.Code, serr.Description)
		}
		return sc.refuseGrant(c, serr, "device")
	}
	p := sc.proxy(g.Proxy)
	if p == nil {
		return sc.unknownProxy(c, g.Proxy)
	}

	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.OIDC.Timeout)
	defer cancel()
	login, err := s.rp.PollDevice(ctx, g.DeviceCode)
	if err != nil {
		return sc.deviceFailure(c, err)
	}
	id, err := s.identify(ctx, p, login)
	if errors.Is(err, oidc.ErrUserinfo) || errors.Is(err, oidc.ErrVerify) {
		return sc.deviceFailure(c, err) // userinfo, or an access token that does not verify
	}
	if err != nil {
		return sc.refusedDevice(c, p, login.Subject, err)
	}
	if !sc.used.take(g.ID, time.Unix(g.Expires, 0)) {
		return sc.refuseGrant(c, &ScriptError{Status: http.StatusBadRequest,
			Code: ScriptErrInvalidGrant, Description: "the handle was used already"}, "device")
	}
	sid, _ := login.Claims["sid"].(string)
	return sc.openSession(c, p, id, login.Subject, sid, "device")
}

// deviceFailure passes the provider's answer on as a state the command understands.
func (sc *scripts) deviceFailure(c echo.Context, err error) error {
	var oe *oidc.Error
	reason := ""
	if errors.As(err, &oe) {
		reason = oe.Reason
	}
	switch {
	case errors.Is(err, oidc.ErrDevicePending) && reason == "slow_down":
		return sc.fail(c, http.StatusBadRequest, ScriptErrSlowDown,
			"polling too fast; wait 5 seconds longer between polls")
	case errors.Is(err, oidc.ErrDevicePending):
		return sc.fail(c, http.StatusBadRequest, ScriptErrPending,
			"the code has not been entered yet")
	case errors.Is(err, oidc.ErrDeviceExpired):
		return sc.fail(c, http.StatusBadRequest, ScriptErrExpired,
			"the user code expired before it was entered; start again")
	case errors.Is(err, oidc.ErrDeviceDenied):
		sc.s.log.Info("script device login denied at the identity provider",
			"request_id", requestID(c))
		return sc.fail(c, http.StatusForbidden, ScriptErrDenied,
			"the sign-in was cancelled or denied at the identity provider")
	case errors.Is(err, oidc.ErrProvider) && reason == "invalid_grant":
		sc.s.log.Warn("script device login failed", "request_id", requestID(c), "err", err)
		return sc.fail(c, http.StatusBadRequest, ScriptErrInvalidGrant,
			"the identity provider no longer knows this sign-in; start again")
	}
	sc.s.log.Warn("login failed at the identity provider step", "request_id", requestID(c),
		"script", true, "err", err)
	return sc.fail(c, http.StatusBadGateway, ScriptErrProvider,
		"the identity provider's answer could not be used; give the reference to your "+
			"administrator")
}

// refusedDevice tells the command that the user may not log in, and why.
func (sc *scripts) refusedDevice(c echo.Context, p *proxy, sub string, err error) error {
	r := refusalOf(err)
	sc.s.log.Warn("login refused", "request_id", requestID(c), "proxy", p.cfg.Prefix,
		"script", true, "way", "device", "subject", sub, "rule", r.Rule, "reason", r.Reason)
	return sc.fail(c, http.StatusForbidden, ScriptErrRefused,
		"your identity provider signed you in, but "+r.Reason)
}
