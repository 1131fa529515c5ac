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

// finished is what a completed login opened in Qlik.
type finished struct {
	to        string // where the browser goes
	sessionID string // the proxy session the bridge added; "" in ticket mode
	node      string // host:port of the node that answered, for the log
}

// finish opens the Qlik session for id and returns where to send the browser.
//
// Ticket mode asks the node for a ticket and sends the browser to the target with
// qlikTicket; the proxy redeems it and sets its own cookie. Session mode adds a session with
// an id of the bridge's choosing to every node of the virtual proxy and sets the proxy's
// cookie itself. A login that Qlik started in session mode first asks for a ticket only to
// learn, from its TargetUri, the page the user asked for: the QPS has no other way to turn
// a targetId into a URL. That ticket is never redeemed and lapses after a minute.
//
// Either way, a proxy session this browser already holds (its cookie reaches the bridge
// when the bridge is inside the cookie domain) is ended first, so that logging in again
// replaces a session instead of piling up toward Qlik's limit of five per user.
func (s *Server) finish(c echo.Context, p *proxy, st *loginState, id qlik.Identity) (finished, error) {
	ctx := c.Request().Context()
	if old, err := c.Cookie(p.cookieName); err == nil && uuid.Validate(old.Value) == nil {
		s.endSession(ctx, p, old.Value)
	}

	if p.cfg.Mode == ModeTicket {
		t, err := s.ticket(ctx, p, st, id)
		return t.finished, err
	}
	to := s.target(p, st)
	if st.FromQlik && st.TargetID != "" {
		t, err := s.ticket(ctx, p, st, id)
		if err != nil {
			return finished{}, err
		}
		to = t.targetURI
	}

	sessionID := uuid.NewString() // a v4 UUID from crypto/rand, as Qlik's own modules use
	node, err := s.addSession(ctx, p, id, sessionID)
	if err != nil {
		return finished{}, err
	}
	c.SetCookie(s.proxyCookie(p, sessionID))
	return finished{to: to, sessionID: sessionID, node: node}, nil
}

// proxyCookie is the virtual proxy's session cookie; an empty value deletes it.
func (s *Server) proxyCookie(p *proxy, value string) *http.Cookie {
	c := &http.Cookie{
		Name:     p.cookieName,
		Value:    value,
		Path:     "/",
		Domain:   p.cfg.CookieDomain,
		HttpOnly: true,
		Secure:   p.secure,
		SameSite: sameSite(p.cfg.SameSite),
	}
	if value == "" {
		c.MaxAge = -1
	}
	return c
}

// ticketResult is a ticket and the URL it is good for.
type ticketResult struct {
	finished
	targetURI string // the page, without the ticket
}

// ticket asks for a ticket, on the node Qlik named or else on the first node that answers.
func (s *Server) ticket(ctx context.Context, p *proxy, st *loginState,
	id qlik.Identity) (ticketResult, error) {
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
		return ticketResult{
			finished:  finished{to: withTicket(to, t.Ticket), node: n.URL().Host},
			targetURI: to,
		}, nil
	}
	return ticketResult{}, errors.Join(errs...)
}

// onNodes runs call on every node of p at once and returns each node's error.
func onNodes(p *proxy, call func(n *qlik.Node) error) []error {
	errs := make([]error, len(p.nodes))
	if len(p.nodes) == 1 {
		errs[0] = call(p.nodes[0])
		return errs
	}
	var wg sync.WaitGroup
	for i, n := range p.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call(n)
		}()
	}
	wg.Wait()
	return errs
}

// addSession adds the session to every node of p. It succeeds when one node has it; the
// others are logged, and a user whose load balancer picks such a node logs in again there.
// It returns the nodes that took the session, for the log.
func (s *Server) addSession(ctx context.Context, p *proxy, id qlik.Identity,
	sessionID string) (string, error) {
	errs := onNodes(p, func(n *qlik.Node) error {
		_, err := n.AddSession(ctx, p.cfg.Prefix, id, sessionID)
		return err
	})
	var took string
	for i, err := range errs {
		if err == nil {
			if took != "" {
				took += ","
			}
			took += p.nodes[i].URL().Host
			continue
		}
		if len(errs) > 1 {
			s.log.Warn("qlik node did not take the session", "proxy", p.cfg.Prefix,
				"node", p.nodes[i].URL().Host, "err", err)
		}
	}
	if took == "" {
		return "", errors.Join(errs...)
	}
	return took, nil
}

// endSession ends a proxy session on every node of p. A node that does not know it has
// nothing to end; other failures are logged, never shown: the user is logging in or out.
func (s *Server) endSession(ctx context.Context, p *proxy, sessionID string) {
	errs := onNodes(p, func(n *qlik.Node) error {
		return n.DeleteSession(ctx, p.cfg.Prefix, sessionID)
	})
	for i, err := range errs {
		var qe *qlik.Error
		if err != nil && !(errors.As(err, &qe) && qe.Status == http.StatusNotFound) {
			s.log.Warn("qlik node did not end a session", "proxy", p.cfg.Prefix,
				"node", p.nodes[i].URL().Host, "err", err)
		}
	}
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
