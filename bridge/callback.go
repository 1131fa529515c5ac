package bridge

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// callback finishes a login: the identity provider sends the browser back here with a code
// and the state, or with an error.
func (s *Server) callback(c echo.Context) error {
	q := c.QueryParams()
	ctx := c.Request().Context()
	rid := requestID(c)

	// The state says which login this is. Nothing is sent to the IdP until it and its
	// flow cookie check out.
	st, err := s.openState(q.Get("state"))
	switch {
	case errors.Is(err, errExpired):
		s.log.Info("login expired", "request_id", rid, "at", "state")
		return s.restartPage(c, st, "Your login took too long")
	case err != nil:
		s.log.Warn("callback refused: state missing or invalid", "request_id", rid,
			"error", bounded(q.Get("error"), 64))
		msg := "The answer from your identity provider does not belong to a login started here."
		if q.Get("error") != "" {
			msg = "Your identity provider did not sign you in."
		}
		return render(c, page{Status: http.StatusBadRequest,
			Title:     "This login link is not valid",
			Message:   msg,
			Next:      "Start again from Qlik Sense.",
			LinkURL:   s.proxies[0].cfg.landing.String(),
			LinkLabel: "Open Qlik Sense",
		})
	}
	p := s.proxyByPrefix(st.Proxy)
	if p == nil {
		p = s.proxies[0]
	}
	f, err := s.openFlow(c.Request(), st)
	if err != nil {
		s.log.Info("callback without a usable flow cookie", "request_id", rid, "err", err)
		return s.restartPage(c, st, "Your login expired")
	}
	c.SetCookie(s.flowCookie(f.ID, ""))

	// RFC 9207: an iss parameter must name our provider, and must be there when the
	// provider says it sends one; otherwise the answer may come from another provider.
	if iss, ok := q["iss"]; ok && (len(iss) != 1 || iss[0] != s.cfg.OIDC.Issuer) ||
		!ok && s.issRequired {
		s.log.Warn("callback refused: iss parameter missing or not the issuer", "request_id", rid)
		return s.restartPageWith(c, st, http.StatusBadRequest, "Sign-in was not completed",
			"The answer did not come from your identity provider.")
	}

	// The identity provider may have said no.
	if e := q.Get("error"); e != "" {
		s.log.Info("identity provider returned an error", "request_id", rid,
			"error", bounded(e, 64), "error_description", bounded(q.Get("error_description"), 200))
		title, msg := "Sign-in was not completed", "Your identity provider did not sign you in."
		if e == "access_denied" {
			msg = "Your identity provider denied the sign-in, or it was cancelled."
		}
		return s.restartPageWith(c, st, http.StatusForbidden, title, msg)
	}
	code := q.Get("code")
	if code == "" {
		return s.restartPageWith(c, st, http.StatusBadRequest, "Sign-in was not completed",
			"Your identity provider sent no login code.")
	}

	// Redeem the code once and verify the ID token.
	idpCtx, cancel := context.WithTimeout(ctx, s.cfg.OIDC.Timeout)
	defer cancel()
	login, err := s.rp.Exchange(idpCtx, code, f.Verifier, f.Nonce)
	if err != nil {
		return s.idpFailure(c, st, err)
	}

	// Map the claims to a Qlik identity and apply the access rules.
	id, err := s.identify(idpCtx, p, login)
	if errors.Is(err, oidc.ErrUserinfo) || errors.Is(err, oidc.ErrVerify) {
		return s.idpFailure(c, st, err) // userinfo, or an access token that does not verify
	}
	if err != nil {
		if st.Script != nil {
			return s.scriptRefused(c, p, st, login.Subject, err)
		}
		return s.refused(c, p, login.Subject, err)
	}

	// A command-line login gets its session through the command, not this browser.
	if st.Script != nil {
		return s.finishScript(c, p, st, login, id)
	}

	// Open the Qlik session and send the browser to its page.
	done, err := s.finish(c, p, st, id)
	if err != nil {
		return s.qlikFailure(c, p, err)
	}
	s.remember(c, p, login, id, done.sessionID)
	s.noteLogin(c)
	s.log.Info("login completed", "request_id", rid, "proxy", p.cfg.Prefix,
		"mode", p.cfg.Mode, "node", done.node,
		"user_directory", id.UserDirectory, "user_id", id.UserID,
		"attributes", attributesForLog(id.Attributes), "qlik_initiated", st.FromQlik)
	return c.Redirect(http.StatusFound, done.to)
}

// restartPage tells the user the login cannot go on and offers a fresh one to the same page.
func (s *Server) restartPage(c echo.Context, st *loginState, title string) error {
	return s.restartPageWith(c, st, http.StatusBadRequest, title,
		"The sign-in could not be finished: it expired, or your browser did not keep the "+
			"login cookie (private windows and strict cookie settings can do that).")
}

func (s *Server) restartPageWith(c echo.Context, st *loginState, status int, title, msg string) error {
	if st != nil && st.Script != nil {
		// The command waits on its loopback listener: tell it, instead of this browser.
		code := ScriptErrProvider
		if status == http.StatusForbidden {
			code = ScriptErrDenied
		}
		return c.Redirect(http.StatusFound, loopbackURL(st.Script, url.Values{
			"error": {code}, "error_description": {title + ": " + msg}}))
	}
	return render(c, page{Status: status, Title: title, Message: msg,
		Next:    "Start again; you will come back to the page you asked for.",
		LinkURL: s.restartURL(st), LinkLabel: "Sign in again",
	})
}

// restartURL is a fresh login to where st was going.
func (s *Server) restartURL(st *loginState) string {
	v := url.Values{}
	p := s.proxyByPrefix(st.Proxy)
	switch {
	case p != nil && st.FromQlik && st.Node < len(p.nodes):
		v.Set("proxyRestUri", p.nodes[st.Node].URL().String()+proxyPath(p.cfg.Prefix))
		if st.TargetID != "" {
			v.Set("targetId", st.TargetID)
		}
	case st.Target != "":
		v.Set("target", st.Target)
	}
	u := s.cfg.Server.public.String() + "/login"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

func proxyPath(prefix string) string {
	if prefix == "" {
		return "/qps/"
	}
	return "/qps/" + prefix + "/"
}

// idpFailure explains an error from the code exchange, the token checks or userinfo.
func (s *Server) idpFailure(c echo.Context, st *loginState, err error) error {
	s.log.Warn("login failed at the identity provider step", "request_id", requestID(c),
		"err", err)
	msg := "The answer from your identity provider could not be verified."
	if errors.Is(err, oidc.ErrProvider) {
		msg = "Your identity provider did not accept the login code; it may have been used " +
			"already, for example by going back in the browser."
	}
	return s.restartPageWith(c, st, http.StatusBadGateway, "Sign-in could not be completed", msg)
}

// refused tells an authenticated user that they may not log in. It never redirects back to
// the identity provider: that would loop.
func (s *Server) refused(c echo.Context, p *proxy, sub string, err error) error {
	var r *refusal
	if !errors.As(err, &r) {
		r = &refusal{Reason: "your account cannot be used with Qlik Sense", Rule: err.Error()}
	}
	s.log.Warn("login refused", "request_id", requestID(c), "proxy", p.cfg.Prefix,
		"subject", sub, "rule", r.Rule, "reason", r.Reason)
	return render(c, page{Status: http.StatusForbidden,
		Title:   "You cannot sign in to Qlik Sense",
		Message: sentence(r.Reason),
		Next: "If you think you should have access, contact your Qlik administrator with " +
			"the reference below. To use another account, sign out first.",
		LinkURL: s.cfg.Server.public.String() + "/logout", LinkLabel: "Sign out",
	})
}

// qlikFailure explains a failed call to the Qlik proxy.
func (s *Server) qlikFailure(c echo.Context, p *proxy, err error) error {
	attrs := []any{"request_id", requestID(c), "proxy", p.cfg.Prefix, "err", err}
	var qe *qlik.Error
	if errors.As(err, &qe) {
		attrs = append(attrs, "status", qe.Status, "body", qe.Body, "hint", qe.Hint)
	}
	var te *qlik.TLSError
	if errors.As(err, &te) {
		attrs = append(attrs, "file", te.File)
	}
	s.log.Error("qlik proxy call failed", attrs...)
	return render(c, page{Status: http.StatusBadGateway,
		Title:   "Qlik Sense could not open your session",
		Message: "You are signed in, but the Qlik proxy did not accept the session.",
		Next:    "Try again in a moment. If it keeps failing, give the reference below to your Qlik administrator.",
		LinkURL: p.cfg.landing.String(), LinkLabel: "Try Qlik Sense again",
	})
}

// attributesForLog renders attributes as Key=Value pairs for the audit line.
func attributesForLog(attrs []qlik.Attribute) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a.Key + "=" + a.Value
	}
	return out
}

// sentence starts s with a capital letter and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// bounded cuts s to at most n bytes for the log.
func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
