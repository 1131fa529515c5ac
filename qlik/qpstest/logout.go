package qpstest

import (
	"html/template"
	"net/http"
)

// logout is the hub's DELETE /<prefix>/qps/user: it ends the cookie's session. The cookie
// itself stays in the browser, as a stale one would. Without a session of this virtual
// proxy it is 401.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *proxy) {
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", http.MethodDelete)
		plain(w, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
		return
	}
	c, err := r.Cookie(p.cookie)
	if err != nil {
		plain(w, http.StatusUnauthorized, "no session")
		return
	}
	if _, _, ok := s.st.deleteSession(p.Prefix, c.Value); !ok {
		plain(w, http.StatusUnauthorized, "no session")
		return
	}
	plain(w, http.StatusOK, "session ended")
}

// logoutForm is POST /<prefix>/qps/user/logout, where the simulated hub's logout button
// posts; the real hub calls DELETE /<prefix>/qps/user and then shows its own page. It ends
// the cookie's session like the DELETE, expires the cookie, and sends the browser (303) to
// the virtual proxy's logout redirect URI, or shows a "logged out" page. Without a session
// it does the same: the browser is logged out either way, as after a second click.
func (s *Server) logoutForm(w http.ResponseWriter, r *http.Request, p *proxy) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plain(w, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
		return
	}
	if c, err := r.Cookie(p.cookie); err == nil {
		s.st.deleteSession(p.Prefix, c.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookie,
		Value:    "",
		Path:     "/",
		Domain:   p.CookieDomain,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   s.cfg.BrowserTLS,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	if uri := s.logoutRedirectURI(p.Prefix); uri != "" {
		http.Redirect(w, r, uri, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	loggedOutTemplate.Execute(w, struct{ Hub string }{p.path("/hub/")})
}

var loggedOutTemplate = template.Must(template.New("logged-out").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Logged out (simulated)</title></head>
<body>
<h1 id="logged-out">Logged out</h1>
<p>The proxy session has ended.</p>
<p><a id="hub" href="{{.Hub}}">Back to the hub</a></p>
</body></html>
`))
