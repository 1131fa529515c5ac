package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// A browser whose proxy session cookie Qlik does not accept (another name, a domain that
// does not cover the Qlik host, a missing -HTTP suffix) is sent back to the bridge at once,
// logs in again without a prompt thanks to single sign-on, and loops. The bridge counts the
// logins it completed for this browser in a short window; when Qlik sends the browser back
// once more after loopLimit-1 of them, it stops the loop with a page that names the likely
// causes. Returns without a completed login (several Qlik tabs restored at once) never count.
const (
	loopCookie  = "qob_loop"
	loopWindow  = 2 * time.Minute
	loopLimit   = 3 // the return from Qlik that is stopped
	purposeLoop = "qlik-oidc-bridge loop v1"
)

type loopCount struct {
	N     int   `json:"n"` // logins completed since Since
	Since int64 `json:"s"`
}

// readLoop returns this browser's count of recent logins, zero when the window has passed.
func (s *Server) readLoop(c echo.Context) loopCount {
	var lc loopCount
	if ck, err := c.Cookie(loopCookie); err == nil {
		if b, err := s.seal.open(purposeLoop, ck.Value); err == nil {
			_ = json.Unmarshal(b, &lc)
		}
	}
	if s.now().Sub(time.Unix(lc.Since, 0)) > loopWindow {
		return loopCount{}
	}
	return lc
}

// loopDetected reports whether Qlik sending this browser here again makes a loop.
func (s *Server) loopDetected(c echo.Context) bool {
	return s.readLoop(c).N >= loopLimit-1
}

// noteLogin counts a login completed for this browser.
func (s *Server) noteLogin(c echo.Context) {
	lc := s.readLoop(c)
	if lc.N == 0 {
		lc.Since = s.now().Unix()
	}
	lc.N++
	if v, err := s.sealJSON(purposeLoop, &lc); err == nil {
		c.SetCookie(&http.Cookie{
			Name: loopCookie, Value: v, Path: s.cfg.Server.public.Path + "/",
			MaxAge: int(loopWindow / time.Second), HttpOnly: true, Secure: s.secure,
			SameSite: http.SameSiteLaxMode,
		})
	}
}

// loopPage stops a login loop and tells the administrator what to check.
func (s *Server) loopPage(c echo.Context, p *proxy, node int) error {
	domain := p.cfg.CookieDomain
	if domain == "" {
		domain = "(host only)"
	}
	msg := fmt.Sprintf("Qlik sent this browser back to sign in %d times within %v: the proxy "+
		"does not accept the session the bridge opens.", loopLimit, minutes(loopWindow))
	next := fmt.Sprintf("Administrators, check on virtual proxy %q: the session cookie header "+
		"name is %s in the QMC (the bridge sets %s; Qlik over http adds -HTTP); the session "+
		"cookie domain %s covers the Qlik host; the browser accepts the cookie (Secure over "+
		"https, SameSite=None only over https for framed use); and the clocks of the bridge "+
		"and Qlik agree. Everyone else: try again in two minutes, and tell your "+
		"administrator if it happens again.", p.cfg.Prefix, p.cfg.CookieName, p.cookieName, domain)
	s.log.Warn("login loop stopped", "request_id", requestID(c), "proxy", p.cfg.Prefix,
		"cookie_name", p.cookieName, "cookie_domain", p.cfg.CookieDomain)
	if node < len(p.nodes) {
		n := p.nodes[node]
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = n.LogError(ctx, "", "", "qlik-oidc-bridge: a browser returned "+
				fmt.Sprint(loopLimit)+" times within "+minutes(loopWindow)+
				"; the proxy did not accept the session cookie "+p.cookieName)
		}()
	}
	return render(c, page{Status: http.StatusConflict,
		Title:   "Qlik Sense keeps sending you back to sign in",
		Message: msg,
		Next:    next,
	})
}

// minutes says d in words, e.g. "2 minutes".
func minutes(d time.Duration) string {
	if m := int(d / time.Minute); m != 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "1 minute"
}
