package oidctest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrLoginFailed is returned (wrapped) by Login when the provider shows the
// login form again instead of redirecting, as it does for a wrong password.
var ErrLoginFailed = errors.New("oidctest: login failed")

// Login drives the provider's HTML login form the way a browser would: it
// opens authURL, fills in username and password, presses the button with
// id "login" and returns the URL the provider redirects to (the client's
// redirect URI with code and state, or with an error) WITHOUT following it.
// An authorization request the provider refuses at once yields that
// redirect too. A nil c means http.DefaultClient; c's redirect policy is
// not used.
func Login(c *http.Client, authURL, username, password string) (*url.URL, error) {
	fill := map[string]string{"username": username, "password": password}
	return submitForm(c, authURL, "login", fill)
}

// Deny opens authURL like Login but presses the cancel button (id "deny")
// and returns the redirect, which carries error=access_denied.
func Deny(c *http.Client, authURL string) (*url.URL, error) {
	return submitForm(c, authURL, "deny", nil)
}

// submitForm opens authURL, fills the login form with fill, presses the
// button with the given id and returns where the provider redirects.
func submitForm(c *http.Client, authURL, button string, fill map[string]string) (*url.URL, error) {
	if c == nil {
		c = http.DefaultClient
	}
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}

	// Open the authorization URL: a refused request redirects at once.
	resp, body, err := fetch(&nc, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	if isRedirect(resp) {
		return location(resp)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidctest: authorization endpoint: status %d: %s",
			resp.StatusCode, pageMessage(body))
	}

	// Fill in the form and press the button.
	f, err := findForm(body, button)
	if err != nil {
		return nil, err
	}
	values, err := f.values(button, fill)
	if err != nil {
		return nil, err
	}
	action, err := resp.Request.URL.Parse(f.action)
	if err != nil {
		return nil, fmt.Errorf("oidctest: login form action: %w", err)
	}
	resp, body, err = fetch(&nc, f.method, action.String(), values)
	if err != nil {
		return nil, err
	}

	// A redirect is the answer; the form shown again is a refusal.
	if isRedirect(resp) {
		return location(resp)
	}
	if resp.StatusCode == http.StatusOK {
		return nil, fmt.Errorf("%w: %s", ErrLoginFailed, pageMessage(body))
	}
	return nil, fmt.Errorf("oidctest: login form: status %d: %s",
		resp.StatusCode, pageMessage(body))
}

// isRedirect reports whether resp sends the browser elsewhere.
func isRedirect(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// location returns where a redirect points, resolved against the request.
func location(resp *http.Response) (*url.URL, error) {
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("oidctest: redirect: %w", err)
	}
	return loc, nil
}

// fetch sends a request, with values as the query of a GET or the form body
// of a POST, and reads up to 1 MiB of the response.
func fetch(c *http.Client, method, target string,
	values url.Values) (*http.Response, []byte, error) {
	var body io.Reader
	if method == http.MethodGet && values != nil {
		u, err := url.Parse(target)
		if err != nil {
			return nil, nil, fmt.Errorf("oidctest: %w", err)
		}
		u.RawQuery = values.Encode()
		target = u.String()
	} else if values != nil {
		body = strings.NewReader(values.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, nil, fmt.Errorf("oidctest: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("oidctest: %w", err)
	}
	defer resp.Body.Close()

	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("oidctest: read %s: %w", req.URL.Path, err)
	}
	return resp, page, nil
}

// htmlForm is a form as a browser sees it.
type htmlForm struct {
	action, method string
	inputs         []formControl
	buttons        []formControl
}

// formControl is an input or a button of a form.
type formControl struct {
	id, name, value, typ string
	checked              bool
}

// findForm returns the first form of page that has a submit button with id.
func findForm(page []byte, id string) (*htmlForm, error) {
	forms, err := parseForms(page)
	if err != nil {
		return nil, fmt.Errorf("oidctest: login page: %w", err)
	}
	for _, f := range forms {
		for _, b := range f.buttons {
			if b.id == id {
				return f, nil
			}
		}
	}
	return nil, fmt.Errorf("oidctest: login page has no form with a button %q", id)
}

// parseForms reads the forms of an HTML page with a lenient XML decoder.
func parseForms(page []byte) ([]*htmlForm, error) {
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity

	var forms []*htmlForm
	var cur *htmlForm
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return forms, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			cur = addElement(&forms, cur, t)
		case xml.EndElement:
			if strings.EqualFold(t.Name.Local, "form") {
				cur = nil
			}
		}
	}
}

// addElement records a form, input or button element and returns the form
// that is open after it.
func addElement(forms *[]*htmlForm, cur *htmlForm, e xml.StartElement) *htmlForm {
	attr := func(name string) (string, bool) {
		for _, a := range e.Attr {
			if strings.EqualFold(a.Name.Local, name) {
				return a.Value, true
			}
		}
		return "", false
	}
	get := func(name string) string { v, _ := attr(name); return v }

	switch tag := strings.ToLower(e.Name.Local); {
	case tag == "form":
		f := &htmlForm{action: get("action"), method: strings.ToUpper(get("method"))}
		if f.method != http.MethodPost {
			f.method = http.MethodGet
		}
		*forms = append(*forms, f)
		return f
	case cur == nil:
	case tag == "input" || tag == "button":
		c := formControl{id: get("id"), name: get("name"), value: get("value"),
			typ: strings.ToLower(get("type"))}
		_, c.checked = attr("checked")
		if c.typ == "submit" || tag == "button" && c.typ == "" {
			cur.buttons = append(cur.buttons, c)
		} else if tag == "input" {
			cur.inputs = append(cur.inputs, c)
		}
	}
	return cur
}

// values returns what a browser submits when the button with id is
// pressed, with the named inputs filled in from fill.
func (f *htmlForm) values(id string, fill map[string]string) (url.Values, error) {
	v := url.Values{}
	filled := map[string]bool{}
	for _, in := range f.inputs {
		switch {
		case in.name == "":
		case in.typ == "checkbox" || in.typ == "radio":
			if in.checked {
				v.Add(in.name, in.value)
			}
		case in.typ == "button" || in.typ == "reset" || in.typ == "image" || in.typ == "file":
		default:
			value, ok := fill[in.name]
			if !ok {
				value = in.value
			}
			filled[in.name] = ok
			v.Add(in.name, value)
		}
	}
	for name := range fill {
		if !filled[name] {
			return nil, fmt.Errorf("oidctest: login form has no field %q", name)
		}
	}
	for _, b := range f.buttons {
		if b.id == id && b.name != "" {
			v.Add(b.name, b.value)
		}
	}
	return v, nil
}

// pageMessage returns the text of the element with id "error" on a page,
// shortened, for error messages.
func pageMessage(page []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	var text strings.Builder
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth > 0 || hasID(t, "error") {
				depth++
			}
		case xml.EndElement:
			if depth > 0 {
				depth--
			}
		case xml.CharData:
			if depth > 0 {
				text.Write(t)
			}
		}
		if depth == 0 && text.Len() > 0 {
			break
		}
	}
	msg := strings.Join(strings.Fields(text.String()), " ")
	if msg == "" {
		return "no message on the page"
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

func hasID(e xml.StartElement, id string) bool {
	for _, a := range e.Attr {
		if strings.EqualFold(a.Name.Local, "id") && a.Value == id {
			return true
		}
	}
	return false
}
