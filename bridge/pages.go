package bridge

import (
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
)

// page is what a person sees when a login cannot go on: what happened, what to do next and
// a reference that ties it to the log.
type page struct {
	Status    int
	Title     string
	Message   string
	Next      string
	LinkURL   string
	LinkLabel string
	// FormAction, when set, is a button that posts to it, labelled FormLabel.
	FormAction string
	FormLabel  string
	// FormFields are hidden fields the form posts.
	FormFields []formField
	// FormCancel, when set, is a second button of the form, labelled so, that posts
	// cancel=1.
	FormCancel string
	Reference  string
}

// formField is a hidden field of a page's form.
type formField struct{ Name, Value string }

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2733}
main{max-width:36rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}.ref{color:#5c6b7a;font-size:.85rem}
.button{display:inline-block;padding:.5rem 1rem;background:#00873d;color:#fff;
border:0;border-radius:4px;text-decoration:none;font:inherit;cursor:pointer}
</style></head>
<body><main>
<h1 id="title">{{.Title}}</h1>
<p id="message">{{.Message}}</p>
{{if .Next}}<p id="next">{{.Next}}</p>{{end}}
{{if .LinkURL}}<p><a class="button" id="link" href="{{.LinkURL}}">{{.LinkLabel}}</a></p>{{end}}
{{if .FormAction}}<form method="post" action="{{.FormAction}}">
{{range .FormFields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<button class="button" type="submit" id="confirm">{{.FormLabel}}</button>
{{if .FormCancel}}<button class="button" type="submit" id="cancel" name="cancel"
value="1">{{.FormCancel}}</button>{{end}}</form>{{end}}
{{if .Reference}}<p class="ref">Reference: <span id="reference">{{.Reference}}</span></p>{{end}}
</main></body></html>
`))

// render writes p with its status. The page is never cached.
func render(c echo.Context, p page) error {
	if p.Status == 0 {
		p.Status = http.StatusOK
	}
	if p.Reference == "" && p.Status >= 400 {
		p.Reference = requestID(c)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(p.Status)
	return pageTemplate.Execute(c.Response(), p)
}
