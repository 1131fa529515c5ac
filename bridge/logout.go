package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// After a login the bridge keeps a sealed cookie on its own host that says who logged in
// where, so that /logout can end the right Qlik sessions and name the user to the identity
// provider, even from a browser whose Qlik session is already gone.
const (
	sessionCookie  = "qob_session"
	purposeSession = "qlik-oidc-bridge session v1"
	sessionLife    = 12 * time.Hour
	maxHintLen     = 2048 // a larger ID token is not kept; logout then names the client
)

// loginRecord is sealed into the session cookie.
type loginRecord struct {
	Proxy     string `json:"p"`
	Directory string `json:"d"`
	UserID    string `json:"u"`
	SessionID string `json:"s,omitempty"`
	IDToken   string `json:"t,omitempty"`
	Expires   int64  `json:"e"`
}

// remember records a completed login in the browser and in the session index.
func (s *Server) remember(c echo.Context, p *proxy, login *oidc.Login, id qlik.Identity, sessionID string) {
	now := s.now()
	rec := loginRecord{Proxy: p.cfg.Prefix, Directory: id.UserDirectory, UserID: id.UserID,
		SessionID: sessionID, Expires: now.Add(sessionLife).Unix()}
	if len(login.RawIDToken) <= maxHintLen {
		rec.IDToken = login.RawIDToken
	}
	if v, err := s.sealJSON(purposeSession, &rec); err == nil {
		c.SetCookie(s.sessionCookie(v))
	}
	sid, _ := login.Claims["sid"].(string)
	err := s.index.Add(c.Request().Context(), SessionRecord{
		SID: sid, Subject: login.Subject, Proxy: p.cfg.Prefix, SessionID: sessionID,
		UserDirectory: id.UserDirectory, UserID: id.UserID, Expires: now.Add(sessionLife),
	})
	if err != nil {
		s.log.Warn("session index", "request_id", requestID(c), "err", err)
	}
}

func (s *Server) sessionCookie(value string) *http.Cookie {
	c := &http.Cookie{Name: sessionCookie, Value: value, Path: s.cfg.Server.public.Path + "/",
		MaxAge: int(sessionLife / time.Second), HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode}
	if value == "" {
		c.MaxAge = -1
	}
	return c
}

// logout ends this browser's Qlik sessions and then, unless configured otherwise, its
// session at the identity provider. It works for a browser that has no Qlik session left
// (the hub's logout already ended it), so the virtual proxy's logout redirect can point here.
func (s *Server) logout(c echo.Context) error {
	if crossSite(c.Request()) {
		return s.confirmLogout(c)
	}
	ctx := c.Request().Context()
	var rec loginRecord
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if b, err := s.seal.open(purposeSession, ck.Value); err == nil {
			_ = json.Unmarshal(b, &rec)
		}
	}

	// The proxy sessions this browser holds: those whose cookies reach the bridge, and the
	// one it last logged in to.
	ended := 0
	for _, p := range s.proxies {
		seen := ""
		if ck, err := c.Cookie(p.cookieName); err == nil && uuid.Validate(ck.Value) == nil {
			s.endSession(ctx, p, ck.Value)
			c.SetCookie(s.proxyCookie(p, ""))
			seen = ck.Value
			ended++
		}
		if rec.Proxy != p.cfg.Prefix || rec.UserID == "" {
			continue
		}
		if rec.SessionID != "" && rec.SessionID != seen {
			s.endSession(ctx, p, rec.SessionID)
			ended++
		}
		if p.cfg.LogoutScope == LogoutUser {
			s.endUserSessions(ctx, p, rec.Directory, rec.UserID)
			ended++
		}
	}
	c.SetCookie(s.sessionCookie(""))
	s.log.Info("logout", "request_id", requestID(c), "proxy", rec.Proxy,
		"user_directory", rec.Directory, "user_id", rec.UserID, "qlik_sessions_ended", ended)

	if end := s.rp.EndSessionURL(); end != "" && !s.cfg.Logout.KeepIdPSession {
		return c.Redirect(http.StatusFound, s.endSessionURL(end, rec.IDToken))
	}
	return render(c, page{
		Title:     "You are signed out of Qlik Sense",
		Message:   "Your Qlik Sense session has ended.",
		LinkURL:   s.cfg.Server.public.String() + "/login",
		LinkLabel: "Sign in again",
	})
}

// crossSite reports whether another site sent this request, as the browser's
// Sec-Fetch-Site says; a browser too old to say counts as another site. A link on another
// site must not end a user's sessions (on every device, with logout_scope: user).
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "same-site", "none":
		return false
	}
	return true
}

// confirmLogout asks the user to confirm a logout that another site started. The form posts
// from the bridge's own page, so the confirmed request is same-origin.
func (s *Server) confirmLogout(c echo.Context) error {
	return render(c, page{
		Title:      "Sign out of Qlik Sense?",
		Message:    "You followed a link to sign out of Qlik Sense.",
		FormAction: s.cfg.Server.public.String() + "/logout",
		FormLabel:  "Sign out",
	})
}

// endSessionURL is the provider's logout for the user, with id_token_hint when the ID token
// was kept and client_id otherwise (OpenID Connect RP-Initiated Logout 1.0).
func (s *Server) endSessionURL(endpoint, idToken string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", s.cfg.OIDC.ClientID)
	if r := s.cfg.Logout.PostLogoutRedirectURI; r != "" {
		q.Set("post_logout_redirect_uri", r)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// endUserSessions ends every proxy session of a user on every node of p, on every device.
func (s *Server) endUserSessions(ctx context.Context, p *proxy, dir, userID string) {
	errs := onNodes(p, func(n *qlik.Node) error {
		_, err := n.DeleteUserSessions(ctx, p.cfg.Prefix, dir, userID)
		return err
	})
	for i, err := range errs {
		if err != nil {
			s.log.Warn("qlik node did not end the user's sessions", "proxy", p.cfg.Prefix,
				"node", p.nodes[i].URL().Host, "err", err)
		}
	}
}

// backchannelLogout ends the Qlik sessions of an identity-provider session that the
// provider reports ended (OpenID Connect Back-Channel Logout 1.0).
func (s *Server) backchannelLogout(c echo.Context) error {
	ctx := c.Request().Context()
	lt, err := s.rp.VerifyLogoutToken(ctx, c.FormValue("logout_token"))
	if err != nil {
		s.log.Warn("back-channel logout refused", "request_id", requestID(c), "err", err)
		return c.JSON(http.StatusBadRequest, map[string]string{
			"error": "invalid_request", "error_description": "the logout token is not valid"})
	}
	records, err := s.index.Take(ctx, lt.SID, lt.Subject)
	if err != nil {
		s.log.Error("session index", "request_id", requestID(c), "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
	}
	ended := 0
	for _, r := range records {
		p := s.proxyByPrefix(r.Proxy)
		switch {
		case p == nil:
		case p.cfg.LogoutScope == LogoutUser:
			s.endUserSessions(ctx, p, r.UserDirectory, r.UserID)
			ended++
		case r.SessionID != "":
			s.endSession(ctx, p, r.SessionID)
			ended++
		default:
			s.log.Warn("back-channel logout cannot end a ticket-mode session; "+
				"set logout_scope: user on the virtual proxy to end the user's sessions",
				"proxy", r.Proxy, "user_id", r.UserID)
		}
	}
	s.log.Info("back-channel logout", "request_id", requestID(c), "subject", lt.Subject,
		"records", len(records), "qlik_sessions_ended", ended)
	return c.NoContent(http.StatusOK)
}
