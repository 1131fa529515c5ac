package bridge

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// A command holds its session id, the proxy's cookie value, and nothing else; holding it
// is what lets it check or end the session, as it lets it use the session.

// checkSession tells a command whether the session it cached is alive, so that it reuses
// it instead of opening another: POST /cli/session with the proxy and the session id. It
// asks the nodes and never creates anything.
func (sc *scripts) checkSession(c echo.Context) error {
	if !sc.cfg.Enabled {
		return sc.disabled(c)
	}
	p, id, err := sc.sessionRequest(c, sc.proxy)
	if p == nil || err != nil {
		return err
	}
	var alive atomic.Bool
	reached := false
	errs := onNodes(p, func(n *qlik.Node) error {
		s, err := n.GetSession(c.Request().Context(), p.cfg.Prefix, id)
		if s != nil {
			alive.Store(true)
		}
		return err
	})
	for i, err := range errs {
		if err == nil {
			reached = true
			continue
		}
		sc.s.log.Warn("qlik node did not answer a session check", "proxy", p.cfg.Prefix,
			"node", p.nodes[i].URL().Host, "err", err)
	}
	if !reached {
		return sc.fail(c, http.StatusBadGateway, ScriptErrQlik,
			"no Qlik proxy node answered; try again")
	}
	st := scriptSessionState{Alive: alive.Load()}
	if st.Alive {
		st.Expires = sc.s.now().Add(sc.cfg.SessionTimeout)
	}
	return c.JSON(http.StatusOK, st)
}

// logout ends a session a command holds, on every node of its virtual proxy: POST
// /cli/logout with the proxy and the session id. It works with scripts turned off too, so
// that sessions opened before can still be ended.
func (sc *scripts) logout(c echo.Context) error {
	p, id, err := sc.sessionRequest(c, sc.s.proxyByPrefix)
	if p == nil || err != nil {
		return err
	}
	ctx := context.WithoutCancel(c.Request().Context())
	sc.s.endSession(ctx, p, id)
	sc.s.log.Info("logout", "request_id", requestID(c), "proxy", p.cfg.Prefix, "script", true,
		"qlik_sessions_ended", 1)
	return c.JSON(http.StatusOK, map[string]bool{"ended": true})
}

// sessionRequest reads the proxy and session id of a check or logout, looking the proxy
// up with find. When it returns a nil proxy, the answer has been sent.
func (sc *scripts) sessionRequest(c echo.Context, find func(string) *proxy) (
	*proxy, string, error) {
	var req scriptSessionRequest
	if serr := readJSON(c, &req); serr != nil {
		return nil, "", sc.failWith(c, serr)
	}
	if uuid.Validate(req.SessionID) != nil {
		return nil, "", sc.fail(c, http.StatusBadRequest, ScriptErrInvalidRequest,
			"session_id must be the session cookie's value, a UUID")
	}
	p := find(req.Proxy)
	if p == nil {
		return nil, "", sc.unknownProxy(c, req.Proxy)
	}
	return p, req.SessionID, nil
}
