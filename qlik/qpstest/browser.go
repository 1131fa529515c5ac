package qpstest

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// BrowserHandler returns the browser side's handler, for in-process use. Cookie names follow
// Config.BrowserTLS whatever server it is mounted on; target URLs recorded for the module
// use the request's Host and the scheme the request arrived with.
func (s *Server) BrowserHandler() http.Handler {
	return http.HandlerFunc(s.serveBrowser)
}

// serveBrowser is the proxy in front of the hub: ticket redemption, the session cookie,
// the session limit, the header budget, then the page.
func (s *Server) serveBrowser(w http.ResponseWriter, r *http.Request) {
	p, rest := s.proxyFor(r.URL.Path)
	if p == nil {
		page(w, http.StatusNotFound, "Not Found", "No virtual proxy serves this path.")
		return
	}
	switch rest {
	case "/qps/user":
		s.logout(w, r, p)
		return
	case "/qps/user/logout":
		s.logoutForm(w, r, p)
		return
	case "/favicon.ico":
		// Served without a session, so that a browser's icon request does not start a
		// login of its own.
		http.NotFound(w, r)
		return
	}
	if tickets, others := splitTicket(r.URL.RawQuery); len(tickets) > 0 {
		s.redeem(w, r, p, tickets, others)
		return
	}

	// The session cookie must name a live session of this virtual proxy.
	var sess Session
	adm := admitNoSession
	if c, err := r.Cookie(p.cookie); err == nil {
		sess, adm = s.st.admit(p.Prefix, c.Value)
	}
	switch adm {
	case admitNoSession:
		s.sendToModule(w, r, p)
		return
	case admitTooMany:
		page(w, http.StatusForbidden, "Access denied",
			"too many sessions: the user already holds the maximum of parallel sessions.")
		return
	}

	// The proxy forwards the attributes in X-Qlik-Security, which must fit HTTP.sys's limit.
	if SecurityHeaderSize(sess.Attributes) > s.cfg.MaxHeaderBytes {
		page(w, http.StatusBadRequest, "Bad Request - Request Header Too Long",
			"HTTP Error 400. The size of the request headers is too long.")
		return
	}
	s.st.touch(sess.ID)
	hubPage(w, r, p, sess)
}

// path returns rest, a path starting with "/", under the virtual proxy's prefix.
func (p *proxy) path(rest string) string {
	if p.Prefix == "" {
		return rest
	}
	return "/" + p.Prefix + rest
}

// proxyFor picks the virtual proxy by the first path segment, falling back to the default
// proxy, and returns the rest of the path.
func (s *Server) proxyFor(path string) (*proxy, string) {
	first, rest, slash := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if p := s.proxies[first]; first != "" && p != nil {
		if slash {
			rest = "/" + rest
		}
		return p, rest
	}
	return s.proxies[""], path
}

// splitTicket separates the qlikTicket values of a raw query from the other parameters,
// which keep their raw form and their order.
func splitTicket(rawQuery string) (tickets, others []string) {
	if rawQuery == "" {
		return nil, nil
	}
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if name, err := url.QueryUnescape(k); err == nil && name == "qlikTicket" {
			t, _ := url.QueryUnescape(v)
			tickets = append(tickets, t)
			continue
		}
		others = append(others, part)
	}
	return tickets, others
}

// redeem consumes a ticket, creates a session for its user, sets the cookie and sends the
// browser to the same URL without qlikTicket (other parameters kept in their order). More
// than one qlikTicket parameter is refused like an invalid ticket.
func (s *Server) redeem(
	w http.ResponseWriter, r *http.Request, p *proxy, tickets, others []string,
) {
	var u identity
	ok := false
	if len(tickets) == 1 {
		u, ok = s.st.redeemTicket(p.Prefix, tickets[0])
	}
	if !ok {
		page(w, http.StatusForbidden, "Access denied", "invalid or expired ticket")
		return
	}
	sess, _, err := s.st.addSession(p.Prefix, uuid.NewString(), u)
	if err != nil {
		page(w, http.StatusInternalServerError, "Error", "could not create a session")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookie,
		Value:    sess.ID,
		Path:     "/",
		Domain:   p.CookieDomain,
		HttpOnly: true,
		Secure:   s.cfg.BrowserTLS,
		SameSite: http.SameSiteLaxMode,
	})
	location := r.URL.EscapedPath()
	if len(others) > 0 {
		location += "?" + strings.Join(others, "&")
	}
	http.Redirect(w, r, location, http.StatusFound)
}

// sendToModule records the page asked for under a new target id and redirects to the
// authentication module with proxyRestUri and targetId.
func (s *Server) sendToModule(w http.ResponseWriter, r *http.Request, p *proxy) {
	module := s.authModuleURI(p.Prefix)
	if module == "" {
		page(w, http.StatusInternalServerError, "Error",
			"The virtual proxy has no authentication module redirect URI.")
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	targetID := uuid.NewString()
	s.st.addTarget(p.Prefix, targetID, scheme+"://"+r.Host+r.URL.RequestURI())

	sep := "&"
	switch {
	case !strings.Contains(module, "?"):
		sep = "?"
	case strings.HasSuffix(module, "?"), strings.HasSuffix(module, "&"):
		sep = ""
	}
	location := module + sep + "proxyRestUri=" + url.QueryEscape(s.ProxyRestURI(p.Prefix)) +
		"&targetId=" + url.QueryEscape(targetID)
	http.Redirect(w, r, location, http.StatusFound)
}

// attribute is one attribute as the page lists it.
type attribute struct{ Key, Value string }

var hubTemplate = template.Must(template.New("hub").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Qlik Sense hub (simulated)</title></head>
<body>
<h1>Qlik Sense hub (simulated)</h1>
<p id="user">Logged in as {{.User}}</p>
<p>Virtual proxy: <code id="prefix">{{.Prefix}}</code></p>
<p>Path: <code id="path">{{.Path}}</code></p>
<p>Query: <code id="query">{{.Query}}</code></p>
<ul id="attributes">{{range .Attributes}}
<li>{{.Key}}: {{.Value}}</li>{{end}}
</ul>
<form method="post" action="{{.LogoutPath}}">
<button id="logout" type="submit">Log out</button>
</form>
</body></html>
`))

// hubPage serves the page that stands for the hub.
func hubPage(w http.ResponseWriter, r *http.Request, p *proxy, sess Session) {
	data := struct {
		User, Prefix, Path, Query, LogoutPath string
		Attributes                            []attribute
	}{
		User:       sess.UserDirectory + `\` + sess.UserID,
		Prefix:     p.Prefix,
		Path:       r.URL.Path,
		Query:      r.URL.RawQuery,
		LogoutPath: p.path("/qps/user/logout"),
	}
	for _, a := range sess.Attributes {
		for k, v := range a {
			data.Attributes = append(data.Attributes, attribute{k, v})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	hubTemplate.Execute(w, data)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1><p id="message">{{.Message}}</p></body></html>
`))

// page serves an error page.
func page(w http.ResponseWriter, status int, title, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	pageTemplate.Execute(w, struct{ Title, Message string }{title, message})
}
