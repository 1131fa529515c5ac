package oidctest

import (
	"bytes"
	"html/template"
	"net/http"
)

// loginPage is what the login form shows.
type loginPage struct {
	Action   string // set by showLogin
	Handle   string // the opaque handle of the pending request
	ClientID string
	Username string
	Message  string
}

// The pages work without JavaScript. The login form keeps only an opaque
// handle; the request itself stays on the server. The style sheet names
// no element id, so a text search for "#login" finds only the button.
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}}</title>
<style>
body { font-family: system-ui, sans-serif; background: #f4f5f7; margin: 0; }
main { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 2rem;
  border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
label, input, button { display: block; width: 100%; box-sizing: border-box; }
input { margin: .25rem 0 1rem; padding: .5rem; font-size: 1rem; }
button { padding: .6rem; font-size: 1rem; margin-top: .5rem; cursor: pointer; }
.primary { background: #1a5fb4; color: #fff; border: 0; border-radius: 4px; }
.secondary { background: none; border: 1px solid #999; border-radius: 4px; }
.alert { color: #a51d2d; }
</style></head><body><main>{{end}}

{{define "login"}}{{template "head" "Sign in"}}
<h1>Sign in</h1>
<p>to continue to <strong>{{.ClientID}}</strong></p>
{{if .Message}}<p id="error" class="alert" role="alert">{{.Message}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Handle}}">
{{template "credentials" .}}{{end}}

{{define "message"}}{{template "head" .Title}}
<h1>{{.Title}}</h1>
<p id="{{.ID}}"{{if eq .ID "error"}} class="alert"{{end}}>{{.Text}}</p>
</main></body></html>
{{end}}
`))

// messagePage is a page with a title and one paragraph.
type messagePage struct {
	Title, ID, Text string
}

// showLogin renders the login form.
func (p *Provider) showLogin(w http.ResponseWriter, status int, page loginPage) {
	page.Action = p.base + loginPath
	p.render(w, status, "login", page)
}

// showError renders an error page that sends the browser nowhere.
func (p *Provider) showError(w http.ResponseWriter, status int, text string) {
	p.render(w, status, "message", messagePage{"Sign-in error", "error", text})
}

// render writes the named template with the headers every page gets.
func (p *Provider) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// The credentials part of the login and device pages: username, password, Sign in, Cancel.
var _ = template.Must(pages.New("credentials").Parse(`<label for="username">Username</label>
<input id="username" name="username" value="{{.Username}}" autocomplete="username"
 required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"
 required>
<button type="submit" id="login" class="primary" name="action" value="login">Sign in</button>
<button type="submit" id="deny" class="secondary" name="action" value="deny"
 formnovalidate>Cancel</button>
</form>
</main></body></html>
`))
