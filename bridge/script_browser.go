package bridge

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// scriptCodeLife is how long the one-time code of the browser way may wait for its
// command: the command redeems it as soon as its listener has it.
const scriptCodeLife = 2 * time.Minute

// Bounds of the free-form parameters of /cli/login. Each travels, sealed into the state,
// through the identity provider's URL and back.
const (
	maxScriptRedirect = 512
	maxScriptProxy    = 128
	maxScriptState    = 128
)

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
	if msg := linkProblem(q); msg != "" {
		return invalidLink(c, msg)
	}
	redirect, ok := loopbackRedirect(q.Get("redirect_uri"))
	if !ok {
		sc.s.log.Warn("script login refused: redirect_uri is not a loopback address",
			"request_id", requestID(c), "redirect_host", hostOf(q.Get("redirect_uri")))
		return invalidLink(c, "A command-line sign-in must return to a program on this "+
			"computer (http://127.0.0.1:PORT/...), and this link does not.")
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
		Redirect: redirect, Challenge: q.Get("code_challenge"), State: q.Get("state")}}
	return sc.s.startFlow(c, &st)
}

// linkProblem says what is wrong with the parameters of a /cli/login link other than its
// redirect_uri's address, or returns "".
func linkProblem(q url.Values) string {
	state := q.Get("state")
	switch {
	case len(q.Get("redirect_uri")) > maxScriptRedirect:
		return fmt.Sprintf("The return address (redirect_uri) is longer than %d bytes.",
			maxScriptRedirect)
	case len(q.Get("proxy")) > maxScriptProxy:
		return fmt.Sprintf("The virtual proxy's prefix (proxy) is longer than %d bytes.",
			maxScriptProxy)
	case len(state) > maxScriptState || !printable(state):
		return fmt.Sprintf("The state must be at most %d printable ASCII characters.",
			maxScriptState)
	case !validChallenge(q.Get("code_challenge")) || q.Get("code_challenge_method") != "S256":
		return "The link lacks the code challenge (S256) of the command that opened it."
	}
	return ""
}

func invalidLink(c echo.Context, msg string) error {
	return render(c, page{Status: http.StatusBadRequest, Title: "This sign-in link is not valid",
		Message: msg, Next: "Start the sign-in again from the command line."})
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

// finishScript goes on with the browser way once the user is identified and allowed: it
// asks the person whether the command may have a session. A link to /cli/login can be
// made by anyone, with their own challenge and a listener of theirs on this computer, and
// the identity provider may sign the person in without a word; so nothing goes to the
// loopback address before the person says yes on the bridge's own page (confirm).
func (s *Server) finishScript(c echo.Context, p *proxy, st *loginState, login *oidc.Login,
	id qlik.Identity) error {
	sl := st.Script
	if !s.cfg.Scripts.Enabled {
		return render(c, page{Status: http.StatusForbidden, Title: "Not available",
			Message: "Command-line logins are turned off at this login service."})
	}
	sid, _ := login.Claims["sid"].(string)
	consent := scriptConsent{Login: *sl, Grant: scriptGrant{Proxy: p.cfg.Prefix,
		Challenge: sl.Challenge, Identity: &id, Subject: login.Subject, SID: sid}}
	sealed, err := s.sealConsent(&consent)
	if err != nil {
		return err
	}
	s.log.Info("script login signed in; asking the user to allow the command",
		"request_id", requestID(c), "proxy", p.cfg.Prefix, "way", "browser",
		"user_directory", id.UserDirectory, "user_id", id.UserID)
	// The form posts to the bridge, which sends the browser on to the command's listener:
	// browsers hold that redirect to form-action too.
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; "+
		"style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self' "+
		listenerSource(sl.Redirect))
	return render(c, page{
		Title: "Allow a command-line sign-in?",
		Message: fmt.Sprintf("A command-line tool on this computer asks for a Qlik Sense "+
			"session as %s\\%s for %s. Allow?", id.UserDirectory, id.UserID, proxyName(p)),
		Next: "Allow only if you started the sign-in yourself just now (qlik-oidc-bridge " +
			"login, or a script that runs it). If someone sent you this link, cancel: " +
			"allowing would give them your Qlik session.",
		FormAction: s.cfg.Server.public.String() + "/cli/login",
		FormLabel:  "Allow",
		FormCancel: "Cancel",
		FormFields: []formField{{Name: "consent", Value: sealed}},
	})
}

// proxyName names p for a person: its prefix and where it is reached.
func proxyName(p *proxy) string {
	if p.cfg.Prefix == "" {
		return "the default virtual proxy (" + p.cfg.public.String() + ")"
	}
	return "the virtual proxy " + strconv.Quote(p.cfg.Prefix) + " (" + p.cfg.public.String() + ")"
}

// listenerSource is the CSP source of a checked loopback redirect: its origin, or for an
// IPv6 address, which Chromium does not read in a source, the scheme alone.
func listenerSource(redirect string) string {
	u, _ := url.Parse(redirect)
	if strings.HasPrefix(u.Host, "[") {
		return "http:"
	}
	return "http://" + u.Host
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
