package bridge

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// finish opens the Qlik session for id and returns where to send the browser.
//
// Ticket mode, and every login that Qlik itself started, asks the node for a ticket and
// sends the browser to the target with qlikTicket; the proxy redeems it and sets its own
// cookie. Session mode adds a session with an id of the bridge's choosing to every node of
// the virtual proxy and sets the proxy's cookie itself.
func (s *Server) finish(c echo.Context, p *proxy, st *loginState, id qlik.Identity) (string, error) {
	ctx := c.Request().Context()
	if st.FromQlik || p.cfg.Mode == ModeTicket {
		return s.ticket(ctx, p, st, id)
	}

	sessionID := uuid.NewString() // a v4 UUID from crypto/rand, as Qlik's own modules use
	if err := s.addSession(ctx, p, id, sessionID); err != nil {
		return "", err
	}
	c.SetCookie(&http.Cookie{
		Name:     p.cookieName,
		Value:    sessionID,
		Path:     "/",
		Domain:   p.cfg.CookieDomain,
		HttpOnly: true,
		Secure:   p.secure,
		SameSite: sameSite(p.cfg.SameSite),
	})
	return s.target(p, st), nil
}

// ticket asks for a ticket, on the node Qlik named or else on the first node that answers.
func (s *Server) ticket(ctx context.Context, p *proxy, st *loginState, id qlik.Identity) (string, error) {
	nodes := p.nodes
	if st.FromQlik && st.Node < len(nodes) {
		nodes = nodes[st.Node : st.Node+1]
	}
	var errs []error
	for _, n := range nodes {
		t, err := n.RequestTicket(ctx, p.cfg.Prefix, id, st.TargetID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		to := s.target(p, st)
		if t.TargetURI != "" {
			if u, ok := s.targets.allowed(t.TargetURI); ok {
				to = u.String()
			} else {
				s.log.Warn("qlik returned a target outside the allowed origins; landing instead",
					"target_host", hostOf(t.TargetURI))
			}
		}
		return withTicket(to, t.Ticket), nil
	}
	return "", errors.Join(errs...)
}

// addSession adds the session to every node of p. It succeeds when one node has it; the
// others are logged, and a user whose load balancer picks such a node logs in again there.
func (s *Server) addSession(ctx context.Context, p *proxy, id qlik.Identity, sessionID string) error {
	if len(p.nodes) == 1 {
		_, err := p.nodes[0].AddSession(ctx, p.cfg.Prefix, id, sessionID)
		return err
	}
	errs := make([]error, len(p.nodes))
	var wg sync.WaitGroup
	for i, n := range p.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = n.AddSession(ctx, p.cfg.Prefix, id, sessionID)
		}()
	}
	wg.Wait()
	ok := false
	for i, err := range errs {
		if err == nil {
			ok = true
			continue
		}
		s.log.Warn("qlik node did not take the session", "proxy", p.cfg.Prefix,
			"node", p.nodes[i].URL().Host, "err", err)
	}
	if !ok {
		return errors.Join(errs...)
	}
	return nil
}

// target is where the login ends: the allowed target it started with, or the landing URL.
func (s *Server) target(p *proxy, st *loginState) string {
	if st.Target != "" {
		return st.Target
	}
	return p.cfg.landing.String()
}

func sameSite(v string) http.SameSite {
	switch v {
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}
