package bridge

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// Sealing purposes of the two things a command redeems: a code never opens as a handle.
const (
	purposeScriptCode   = "qlik-oidc-bridge script code v1"
	purposeDeviceHandle = "qlik-oidc-bridge device handle v1"
)

// scriptGrant is sealed into the one-time code of the browser way and into the handle of
// the device way. Only the bridge can open it.
type scriptGrant struct {
	ID        string `json:"i"` // random, for single use
	Proxy     string `json:"p"`
	Challenge string `json:"c"` // S256 of the command's code verifier
	Expires   int64  `json:"e"`
	// The browser way: who signed in.
	Identity *qlik.Identity `json:"u,omitempty"`
	Subject  string         `json:"s,omitempty"`
	SID      string         `json:"d,omitempty"`
	// The device way: the identity provider's device code, a credential of the bridge.
	DeviceCode string `json:"x,omitempty"`
}

// sealGrant gives g a random id and an expiry and seals it.
func (s *Server) sealGrant(purpose string, g *scriptGrant, expires time.Time) (string, error) {
	id, err := s.singleUseID()
	if err != nil {
		return "", err
	}
	g.ID, g.Expires = id, expires.Unix()
	return s.sealJSON(purpose, g)
}

// singleUseID returns a random id for something that is redeemed once.
func (s *Server) singleUseID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("bridge: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// openGrant opens a code or handle and checks it against the command's verifier. It
// returns a ScriptError to send when it is not usable.
func (sc *scripts) openGrant(purpose, raw, verifier string) (*scriptGrant, *ScriptError) {
	invalid := func(msg string) (*scriptGrant, *ScriptError) {
		return nil, &ScriptError{Status: http.StatusBadRequest, Code: ScriptErrInvalidGrant,
			Description: msg}
	}
	b, err := sc.s.seal.open(purpose, raw)
	if err != nil {
		return invalid("the code is not one this bridge issued")
	}
	var g scriptGrant
	if err := json.Unmarshal(b, &g); err != nil || g.ID == "" {
		return invalid("the code is not one this bridge issued")
	}
	// The verifier comes first: a stolen code or handle learns nothing, not even whether it
	// expired, and a device handle without it never reaches the identity provider.
	if !verifierMatches(verifier, g.Challenge) {
		return invalid("the code verifier does not match: this login was not started by " +
			"this command")
	}
	if sc.s.now().Unix() > g.Expires {
		if purpose == purposeDeviceHandle {
			return nil, &ScriptError{Status: http.StatusBadRequest, Code: ScriptErrExpired,
				Description: "the user code expired before it was entered; start again"}
		}
		return invalid("the code expired; start again")
	}
	if sc.used.seen(g.ID) {
		return invalid("the code was used already")
	}
	return &g, nil
}

// token is where a command finishes a login: it redeems the code of the browser way, or
// polls the device way once.
func (sc *scripts) token(c echo.Context) error {
	if !sc.cfg.Enabled {
		return sc.disabled(c)
	}
	var req scriptTokenRequest
	if serr := readJSON(c, &req); serr != nil {
		return sc.failWith(c, serr)
	}
	switch {
	case req.Verifier == "":
	case req.Code != "" && req.Handle == "":
		return sc.redeem(c, &req)
	case req.Handle != "" && req.Code == "":
		return sc.pollDevice(c, &req)
	}
	return sc.fail(c, http.StatusBadRequest, ScriptErrInvalidRequest,
		"send code_verifier with either code or handle")
}

// redeem opens the Qlik session of the browser way.
func (sc *scripts) redeem(c echo.Context, req *scriptTokenRequest) error {
	g, serr := sc.openGrant(purposeScriptCode, req.Code, req.Verifier)
	if serr == nil && g.Identity == nil {
		serr = &ScriptError{Status: http.StatusBadRequest, Code: ScriptErrInvalidGrant,
			Description: "the code is not one this bridge issued"}
	}
	if serr != nil {
		return sc.refuseGrant(c, serr, "browser")
	}
	p := sc.proxy(g.Proxy)
	if p == nil {
		return sc.unknownProxy(c, g.Proxy)
	}
	if !sc.used.take(g.ID, time.Unix(g.Expires, 0)) {
		return sc.refuseGrant(c, &ScriptError{Status: http.StatusBadRequest,
			Code: ScriptErrInvalidGrant, Description: "the code was used already"}, "browser")
	}
	return sc.openSession(c, p, *g.Identity, g.Subject, g.SID, "browser")
}

// refuseGrant logs and answers a code or handle that cannot be used.
func (sc *scripts) refuseGrant(c echo.Context, e *ScriptError, way string) error {
	sc.s.log.Warn("script login refused: "+e.Description, "request_id", requestID(c),
		"way", way, "error", e.Code)
	return sc.fail(c, e.Status, e.Code, e.Description)
}

// openSession adds a proxy session for id to every node of p, whatever p's mode, and
// hands it to the command.
func (sc *scripts) openSession(c echo.Context, p *proxy, id qlik.Identity, subject, sid,
	way string) error {
	s := sc.s
	ctx := c.Request().Context()
	sessionID := uuid.NewString() // a v4 UUID from crypto/rand, as for browsers
	nodes, err := s.addSession(ctx, p, id, sessionID)
	if err != nil {
		s.log.Error("qlik proxy call failed", "request_id", requestID(c), "proxy", p.cfg.Prefix,
			"script", true, "err", err)
		return sc.fail(c, http.StatusBadGateway, ScriptErrQlik,
			"you are signed in, but the Qlik proxy did not accept the session; try again, and "+
				"if it keeps failing give the reference to your Qlik administrator")
	}
	now := s.now()
	err = s.index.Add(ctx, SessionRecord{SID: sid, Subject: subject, Proxy: p.cfg.Prefix,
		SessionID: sessionID, UserDirectory: id.UserDirectory, UserID: id.UserID,
		Expires: now.Add(sessionLife)})
	if err != nil {
		s.log.Warn("session index", "request_id", requestID(c), "err", err)
	}
	s.log.Info("login completed", "request_id", requestID(c), "proxy", p.cfg.Prefix,
		"mode", p.cfg.Mode, "node", nodes, "script", true, "way", way,
		"user_directory", id.UserDirectory, "user_id", id.UserID,
		"attributes", attributesForLog(id.Attributes))
	return c.JSON(http.StatusOK, sc.session(p, sessionID, id, now))
}

// session describes the proxy session sessionID of p for the command.
func (sc *scripts) session(p *proxy, sessionID string, id qlik.Identity,
	now time.Time) *ScriptSession {
	domain, hostOnly := p.cfg.CookieDomain, false
	if domain == "" {
		domain, hostOnly = p.cfg.public.Hostname(), true
	}
	return &ScriptSession{
		Proxy:         p.cfg.Prefix,
		QlikURL:       p.cfg.public.String(),
		CookieName:    p.cookieName,
		CookieValue:   sessionID,
		CookieDomain:  domain,
		HostOnly:      hostOnly,
		CookiePath:    "/",
		Secure:        p.secure,
		Expires:       now.Add(sc.cfg.SessionTimeout),
		UserDirectory: id.UserDirectory,
		UserID:        id.UserID,
	}
}
