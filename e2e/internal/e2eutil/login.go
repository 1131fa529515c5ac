package e2eutil

import (
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// maxPage bounds how much of a provider page LoginWithForm reads.
const maxPage = 1 << 20

var (
	formAction = regexp.MustCompile(`<form[^>]*\saction="([^"]*)"`)
	pageError  = regexp.MustCompile(`<p id="error">([^<]*)</p>`)
)

// LoginWithForm signs in at the provider the way a browser would: it follows authURL's
// redirects to the login form, posts user and pass to it, and follows the provider's
// redirects until one leaves the provider's origin (scheme and host of authURL). That
// redirect's URL, usually the client's redirect_uri with code or error, is returned without
// being followed. If the provider redirects away before showing its form (an error, or a
// session in c's cookie jar), that URL is returned and user and pass are unused.
//
// c is not changed; when it has no cookie jar, a fresh one is used for this login.
func LoginWithForm(c *http.Client, authURL, user, pass string) (*url.URL, error) {
	start, err := url.Parse(authURL)
	if err != nil || start.Host == "" {
		return nil, errorf("login: bad authorization URL")
	}
	lc, err := loginClient(c, start)
	if err != nil {
		return nil, err
	}

	// Follow the authorization request to the login form.
	resp, err := lc.Get(authURL)
	if err != nil {
		return nil, errorf("login: authorization request: %w", err)
	}
	away, body, err := readStep(resp)
	if err != nil || away != nil {
		return away, err
	}
	m := formAction.FindSubmatch(body)
	if m == nil {
		return nil, errorf("login: no form on %s (status %d)", resp.Request.URL.Path, resp.StatusCode)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		return nil, errorf("login: bad form action: %w", err)
	}

	// Post the credentials and follow the provider back to the client.
	resp, err = lc.PostForm(action.String(), url.Values{"username": {user}, "password": {pass}})
	if err != nil {
		return nil, errorf("login: posting the form: %w", err)
	}
	away, body, err = readStep(resp)
	if err != nil || away != nil {
		return away, err
	}
	if m := pageError.FindSubmatch(body); m != nil {
		return nil, errorf("login: the provider said %q", html.UnescapeString(string(m[1])))
	}
	return nil, errorf("login: the provider stayed on %s (status %d)",
		resp.Request.URL.Path, resp.StatusCode)
}

// loginClient returns a copy of c that stops at redirects leaving start's origin.
func loginClient(c *http.Client, start *url.URL) (*http.Client, error) {
	lc := *c
	if lc.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, errorf("login: %w", err)
		}
		lc.Jar = jar
	}
	lc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(req.URL, start) {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &lc, nil
}

// readStep reads resp. It returns the target of a redirect that left the provider, or else
// the body of the page the provider showed.
func readStep(resp *http.Response) (*url.URL, []byte, error) {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, err := resp.Location()
		if err != nil {
			return nil, nil, errorf("login: redirect without a location: %w", err)
		}
		return loc, nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, nil, errorf("login: reading %s: %w", resp.Request.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, errorf("login: %s answered %d: %s",
			resp.Request.URL.Path, resp.StatusCode, pageText(body))
	}
	return nil, body, nil
}

// sameOrigin reports whether a and b have the same scheme and host.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

var tags = regexp.MustCompile(`<[^>]*>|\s+`)

// pageText returns the text of an HTML page, tags removed, cut to 300 bytes.
func pageText(body []byte) string {
	text := strings.TrimSpace(html.UnescapeString(tags.ReplaceAllString(string(body), " ")))
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	return text
}
