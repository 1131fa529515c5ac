package bridge

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// login starts a login. Qlik sends the browser here with proxyRestUri and targetId when it
// has no session for it; a portal link sends it here with an optional target URL.
func (s *Server) login(c echo.Context) error {
	q := c.QueryParams()
	var st loginState
	if raw := q.Get("proxyRestUri"); raw != "" {
		p, node, ok := s.matchProxyRestURI(raw)
		if !ok {
			s.log.Warn("login refused: proxyRestUri names no configured proxy node",
				"request_id", requestID(c), "proxy_rest_host", hostOf(raw))
			return render(c, page{Status: http.StatusBadRequest,
				Title:   "Unknown Qlik proxy",
				Message: "The link that brought you here names a Qlik proxy this login service does not serve.",
				Next: "Open Qlik Sense from its usual address. Administrators: add the " +
					"proxy node to qlik.virtual_proxies[].nodes.",
			})
		}
		if s.loopDetected(c) {
			return s.loopPage(c, p, node)
		}
		targetID := q.Get("targetId")
		if !validTargetID(targetID) {
			if targetID != "" {
				s.log.Info("targetId dropped: not an id Qlik sends; the login lands on the hub",
					"request_id", requestID(c))
			}
			targetID = ""
		}
		st = loginState{Proxy: p.cfg.Prefix, FromQlik: true, Node: node, TargetID: targetID}
	} else {
		p, target := s.chooseTarget(q.Get("target"))
		st = loginState{Proxy: p.cfg.Prefix, Target: target}
	}
	return s.startFlow(c, &st)
}

// startFlow seals st into the state and the flow cookie and sends the browser to the IdP.
func (s *Server) startFlow(c echo.Context, st *loginState) error {
	s.pruneFlows(c)
	f, err := newFlow(s.rand, st, s.now(), s.cfg.FlowLifetime)
	if err != nil {
		return err
	}
	state, err := s.sealJSON(purposeState, st)
	if err != nil {
		return err
	}
	cookie, err := s.sealJSON(purposeFlow, &f)
	if err != nil {
		return err
	}
	c.SetCookie(s.flowCookie(f.ID, cookie))
	return c.Redirect(http.StatusFound, s.rp.AuthCodeURL(state, f.Nonce, f.Verifier))
}

// chooseTarget returns the virtual proxy and target of a direct login: the proxy on the
// target's origin with the longest matching prefix, else the first one. A target that the
// policy refuses is dropped, so the login ends on that proxy's landing URL instead.
func (s *Server) chooseTarget(raw string) (*proxy, string) {
	u, ok := s.targets.allowed(raw)
	if !ok {
		return s.proxies[0], ""
	}
	best, o := s.proxies[0], origin(u)
	bestLen := -1
	for _, p := range s.proxies {
		pre := p.cfg.public.Path
		if origin(p.cfg.public) == o && strings.HasPrefix(u.Path+"/", pre) && len(pre) > bestLen {
			best, bestLen = p, len(pre)
		}
	}
	return best, u.String()
}

// matchProxyRestURI finds the configured virtual proxy and node that a proxyRestUri names,
// e.g. https://qs.example.com:4243/qps/bi/. Nothing is ever sent to the URI itself.
func (s *Server) matchProxyRestURI(raw string) (*proxy, int, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Opaque != "" {
		return nil, 0, false
	}
	path := strings.TrimSuffix(u.Path, "/")
	if path != "/qps" && !strings.HasPrefix(path, "/qps/") {
		return nil, 0, false
	}
	prefix := strings.TrimPrefix(strings.TrimPrefix(path, "/qps"), "/")
	p := s.proxyByPrefix(prefix)
	if p == nil {
		return nil, 0, false
	}
	for i, n := range p.nodes {
		if origin(n.URL()) == origin(u) {
			return p, i, true
		}
	}
	return nil, 0, false
}

// validTargetID accepts the GUID-like ids Qlik sends; anything else is not forwarded.
func validTargetID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// hostOf returns the host of a URL for the log, or "invalid".
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" && len(u.Host) < 256 {
		return u.Host
	}
	return "invalid"
}
