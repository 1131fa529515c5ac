package bridge

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// scriptCodeLife is how long the one-time code of the browser way may wait for its
// command: the command redeems it as soon as its listener has it.
const scriptCodeLife = 2 * time.Minute

// maxScriptState bounds the state a command may send through the login.
const maxScriptState = 128

// browserLogin starts the browser way of a command-line login: GET /cli/login with the
// virtual proxy's prefix, the command's loopback redirect_uri, its S256 code_challenge and
// an optional state. It is the normal login, marked as a script's.
func (sc *scripts) browserLogin(c echo.Context) error {
	if !sc.cfg.Enabled {
		return render(c, page{Status: http.StatusForbidden, Title: "Not available",
			Message: "Command-line logins are turned off at this login service.",
			Next:    "Administrators can turn them on with scripts.enabled."})
	}
	q := c.QueryParams()
	redirect, ok := loopbackRedirect(q.Get("redirect_uri"))
	if !ok {
		sc.s.log.Warn("script login refused: redirect_uri is not a loopback address",
			"request_id", requestID(c), "redirect_host", hostOf(q.Get("redirect_uri")))
		return render(c, page{Status: http.StatusBadRequest, Title: "This sign-in link is not valid",
			Message: "A command-line sign-in must return to a program on this computer " +
				"(http://127.0.0.1:PORT/...), and this link does not.",
			Next: "Start the sign-in again from the command line."})
	}
	state := q.Get("state")
	if !validChallenge(q.Get("code_challenge")) || q.Get("code_challenge_method") != "S256" ||
		len(state) > maxScriptState || !printable(state) {
		return render(c, page{Status: http.StatusBadRequest, Title: "This sign-in link is not valid",
			Message: "The link lacks the code challenge (S256) of the command that opened it.",
			Next:    "Start the sign-in again from the command line."})
	}
	prefix := q.Get("proxy")
	if !q.Has("proxy") && len(sc.proxies()) > 0 {
		prefix = sc.proxies()[0].cfg.Prefix
	}
	p := sc.proxy(prefix)
	if p == nil {
		return render(c, page{Status: http.StatusNotFound, Title: "Unknown Qlik proxy",
			Message: "This login service does not open command-line sessions for the virtual " +
				"proxy " + strconv.Quote(bounded(prefix, 64)) + ".",
			Next: "Check the --proxy option; the command lists the virtual proxies it may use."})
	}
	st := loginState{Proxy: p.cfg.Prefix, Script: &scriptLogin{
		Redirect: redirect, Challenge: q.Get("code_challenge"), State: state}}
	return sc.s.startFlow(c, &st)
}

// loopbackRedirect accepts http://IP:PORT/path on a loopback IP literal (RFC 8252, 7.3),
// without query, fragment or user info, and returns it. "localhost" is refused: it can be
// resolved elsewhere.
func loopbackRedirect(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", false
	}
	ip := net.ParseIP(u.Hostname())
	port, err := strconv.Atoi(u.Port())
	if ip == nil || !ip.IsLoopback() || err != nil || port < 1 || port > 65535 {
		return "", false
	}
	return u.String(), true
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// finishScript completes the browser way once the user is identified and allowed: it
// seals who signed in into a one-time code and sends the browser to the command's loopback
// listener with it. The Qlik session is added only when the command redeems the code with
// its verifier, so a code taken on the way opens nothing.
func (s *Server) finishScript(c echo.Context, p *proxy, st *loginState, login *oidc.Login,
	id qlik.Identity) error {
	sl := st.Script
	if !s.cfg.Scripts.Enabled {
		return render(c, page{Status: http.StatusForbidden, Title: "Not available",
			Message: "Command-line logins are turned off at this login service."})
	}
	sid, _ := login.Claims["sid"].(string)
	g := scriptGrant{Proxy: p.cfg.Prefix, Challenge: sl.Challenge, Identity: &id,
		Subject: login.Subject, SID: sid}
	code, err := s.sealGrant(purposeScriptCode, &g, s.now().Add(scriptCodeLife))
	if err != nil {
		return err
	}
	s.log.Info("script login signed in; the command redeems the session",
		"request_id", requestID(c), "proxy", p.cfg.Prefix, "way", "browser",
		"user_directory", id.UserDirectory, "user_id", id.UserID)
	return c.Redirect(http.StatusFound, loopbackURL(sl, url.Values{"code": {code}}))
}

// scriptRefused sends a refused user's browser back to the command with
// error=access_denied and the reason, so that the command can say why and end, instead of
// waiting for a code that never comes. The browser gets no page of the bridge.
func (s *Server) scriptRefused(c echo.Context, p *proxy, st *loginState, sub string,
	err error) error {
	r := refusalOf(err)
	s.log.Warn("login refused", "request_id", requestID(c), "proxy", p.cfg.Prefix,
		"script", true, "subject", sub, "rule", r.Rule, "reason", r.Reason)
	return c.Redirect(http.StatusFound, loopbackURL(st.Script, url.Values{
		"error":             {ScriptErrRefused},
		"error_description": {"your identity provider signed you in, but " + r.Reason}}))
}

// loopbackURL is the command's redirect URL with v and the command's state.
func loopbackURL(sl *scriptLogin, v url.Values) string {
	if sl.State != "" {
		v.Set("state", sl.State)
	}
	return sl.Redirect + "?" + v.Encode()
}
