package bridge

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
)

// The browser way asks the person before a command gets anything: the bridge's page names
// the user and the virtual proxy, and only its form, posted from that page, sends the
// browser on to the command's listener with the one-time code.

const (
	purposeScriptConsent = "qlik-oidc-bridge script consent v1"
	// scriptConsentLife is how long the person has to answer. The one-time code is sealed
	// when they allow, so its own short life starts then.
	scriptConsentLife = 10 * time.Minute
)

// scriptConsent is sealed into the confirmation form: the grant the code will carry and
// where the command waits. Only the bridge can open it.
type scriptConsent struct {
	ID      string      `json:"i"` // random, for single use
	Expires int64       `json:"e"`
	Login   scriptLogin `json:"l"`
	Grant   scriptGrant `json:"g"`
}

// sealConsent gives consent a random id and an expiry and seals it.
func (s *Server) sealConsent(consent *scriptConsent) (string, error) {
	id, err := s.singleUseID()
	if err != nil {
		return "", err
	}
	consent.ID, consent.Expires = id, s.now().Add(scriptConsentLife).Unix()
	return s.sealJSON(purposeScriptConsent, consent)
}

// openConsent opens a confirmation form's consent. It reports errExpired, with the consent,
// for a genuine one that came too late.
func (s *Server) openConsent(raw string) (*scriptConsent, error) {
	b, err := s.seal.open(purposeScriptConsent, raw)
	if err != nil {
		return nil, err
	}
	var consent scriptConsent
	if err := json.Unmarshal(b, &consent); err != nil || consent.ID == "" ||
		consent.Grant.Identity == nil {
		return nil, errUnsealed
	}
	if s.now().Unix() > consent.Expires {
		return &consent, errExpired
	}
	return &consent, nil
}

// confirm takes the person's answer: POST /cli/login from the confirmation page, with the
// sealed consent, and cancel=1 for Cancel. Allow sends the browser to the command's
// listener with a one-time code; Cancel sends it there with error=access_denied. Each
// consent is answered once.
func (sc *scripts) confirm(c echo.Context) error {
	s := sc.s
	if !sc.cfg.Enabled {
		return render(c, page{Status: http.StatusForbidden, Title: "Not available",
			Message: "Command-line logins are turned off at this login service."})
	}
	// The page posts to its own origin. A browser that says otherwise was sent by another
	// site; one too old to say is let through, as the sealed consent is what counts.
	if site := c.Request().Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		s.log.Warn("script confirmation refused: not posted from the bridge's page",
			"request_id", requestID(c), "sec_fetch_site", bounded(site, 32))
		return render(c, page{Status: http.StatusForbidden,
			Title:   "This confirmation is not valid",
			Message: "A command-line sign-in is allowed only on this login service's own page.",
			Next:    "Start the sign-in again from the command line."})
	}

	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxScriptBody)
	consent, err := s.openConsent(r.PostFormValue("consent"))
	switch {
	case errors.Is(err, errExpired):
		s.log.Info("script login not confirmed in time", "request_id", requestID(c))
		return c.Redirect(http.StatusSeeOther, loopbackURL(&consent.Login, url.Values{
			"error":             {ScriptErrExpired},
			"error_description": {"the sign-in was not allowed in the browser in time"}}))
	case err != nil:
		return render(c, page{Status: http.StatusBadRequest,
			Title:   "This confirmation is not valid",
			Message: "The answer does not belong to a sign-in started here.",
			Next:    "Start the sign-in again from the command line."})
	case !sc.used.take(consent.ID, time.Unix(consent.Expires, 0)):
		return render(c, page{Status: http.StatusBadRequest,
			Title:   "This sign-in was answered already",
			Message: "You allowed or cancelled this command-line sign-in before.",
			Next:    "Return to the command line."})
	}
	if r.PostFormValue("cancel") != "" {
		s.log.Info("script login cancelled by the user", "request_id", requestID(c),
			"proxy", consent.Grant.Proxy)
		return c.Redirect(http.StatusSeeOther, loopbackURL(&consent.Login, url.Values{
			"error":             {ScriptErrDenied},
			"error_description": {"the sign-in was cancelled in the browser"}}))
	}
	return sc.allow(c, consent)
}

// allow seals the one-time code and sends the browser to the command's listener with it.
// The Qlik session is added only when the command redeems the code with its verifier, so
// a code taken on the way opens nothing.
func (sc *scripts) allow(c echo.Context, consent *scriptConsent) error {
	s := sc.s
	code, err := s.sealGrant(purposeScriptCode, &consent.Grant, s.now().Add(scriptCodeLife))
	if err != nil {
		return err
	}
	id := consent.Grant.Identity
	s.log.Info("script login allowed by the user; the command redeems the session",
		"request_id", requestID(c), "proxy", consent.Grant.Proxy, "way", "browser",
		"user_directory", id.UserDirectory, "user_id", id.UserID)
	return c.Redirect(http.StatusSeeOther, loopbackURL(&consent.Login, url.Values{
		"code": {code}}))
}
