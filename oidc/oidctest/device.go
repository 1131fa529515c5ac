package oidctest

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The device authorization grant of RFC 8628, on when Config.DeviceFlow is set.
const (
	deviceAuthPath  = "/device_authorization"
	devicePath      = "/device" // the verification URI, where a person enters the user code
	deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

	defaultDeviceLifetime = 10 * time.Minute
	defaultDeviceInterval = 5 * time.Second
	slowDownStep          = 5 * time.Second        // RFC 8628, 3.5
	userCodeLetters       = "BCDFGHJKLMNPQRSTVWXZ" // no vowels: no words, no 0/O or 1/I
)

// deviceGrant is a device authorization waiting for a person to enter its user code.
type deviceGrant struct {
	client   *Client
	scopes   []string
	userCode string // normalized: eight letters, no dash
	expires  time.Time
	interval time.Duration
	lastPoll time.Time
	user     *account // set when the person signed in
	authTime time.Time
	denied   bool
	attempts int
}

// deviceStore keeps the device authorizations in memory.
type deviceStore struct {
	mu     sync.Mutex
	byCode map[string]*deviceGrant // by device code
	byUser map[string]string       // user code to device code
}

// setDevice checks the device flow settings and fills their defaults.
func (p *Provider) setDevice() error {
	if p.cfg.DeviceCodeLifetime < 0 || p.cfg.DevicePollInterval < 0 {
		return errors.New("oidctest: device flow durations must not be negative")
	}
	if p.cfg.DeviceCodeLifetime == 0 {
		p.cfg.DeviceCodeLifetime = defaultDeviceLifetime
	}
	if p.cfg.DevicePollInterval == 0 {
		p.cfg.DevicePollInterval = defaultDeviceInterval
	}
	p.devices.byCode = make(map[string]*deviceGrant)
	p.devices.byUser = make(map[string]string)
	return nil
}

// announceDevice adds the device authorization endpoint and grant to the metadata.
func (p *Provider) announceDevice(m *metadata) {
	if p.cfg.DeviceFlow {
		m.DeviceAuthorizationEndpoint = p.endpoint(deviceAuthPath)
		m.GrantTypes = append(m.GrantTypes, deviceGrantType)
	}
}

// deviceAuthResponse is the device authorization response of RFC 8628, 3.2.
type deviceAuthResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// serveDeviceAuthorization starts a device authorization for an authenticated client.
func (p *Provider) serveDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if !p.cfg.DeviceFlow {
		http.NotFound(w, r)
		return
	}
	params, terr := tokenParams(w, r)
	if terr == nil {
		var client *Client
		if client, terr = p.authenticate(r, params); terr == nil {
			terr = p.startDevice(w, client, params)
		}
	}
	if terr != nil {
		if terr.basic && terr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="oidctest", charset="UTF-8"`)
		}
		writeJSON(w, terr.status, terr)
	}
}

// startDevice stores a new device authorization and answers with its codes.
func (p *Provider) startDevice(w http.ResponseWriter, client *Client,
	params url.Values) *tokenError {
	scopes := strings.Fields(params.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		return badRequest("invalid_scope", "scope must include openid")
	}
	now := p.now()
	g := &deviceGrant{
		client:   client,
		scopes:   grantedScopes(scopes),
		userCode: newUserCode(),
		expires:  now.Add(p.cfg.DeviceCodeLifetime),
		interval: p.cfg.DevicePollInterval,
	}
	code := randomToken()
	p.devices.add(code, g, now)

	shown := g.userCode[:4] + "-" + g.userCode[4:]
	verify := p.endpoint(devicePath)
	writeJSON(w, http.StatusOK, deviceAuthResponse{
		DeviceCode:              code,
		UserCode:                shown,
		VerificationURI:         verify,
		VerificationURIComplete: verify + "?" + url.Values{"user_code": {shown}}.Encode(),
		ExpiresIn:               int64(p.cfg.DeviceCodeLifetime / time.Second),
		Interval:                int64((g.interval + time.Second - 1) / time.Second),
	})
	return nil
}

// newUserCode returns eight random letters of userCodeLetters.
func newUserCode() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails
	for i := range b {
		b[i] = userCodeLetters[int(b[i])%len(userCodeLetters)]
	}
	return string(b)
}

// normalizeUserCode accepts what a person types: any case, with dashes and spaces.
func normalizeUserCode(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if c != '-' && c != ' ' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// add stores g under its device code; expired grants are dropped first.
func (d *deviceStore) add(code string, g *deviceGrant, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for c, old := range d.byCode {
		if now.After(old.expires.Add(loginTimeout)) {
			delete(d.byCode, c)
			delete(d.byUser, old.userCode)
		}
	}
	d.byCode[code] = g
	d.byUser[g.userCode] = code
}

// serveTokenEndpoint sends device code grants to the device flow and every other token
// request to serveToken.
func (p *Provider) serveTokenEndpoint(w http.ResponseWriter, r *http.Request) {
	if p.cfg.DeviceFlow {
		params, terr := tokenParams(w, r)
		if terr == nil && params.Get("grant_type") == deviceGrantType {
			resp, terr := p.deviceToken(r, params)
			if terr != nil {
				writeJSON(w, terr.status, terr)
				return
			}
			writeJSON(w, http.StatusOK, resp)
			return
		}
	}
	p.serveToken(w, r)
}

// deviceToken answers one poll of the device access token request (RFC 8628, 3.4 and 3.5).
func (p *Provider) deviceToken(r *http.Request, params url.Values) (*tokenResponse, *tokenError) {
	client, terr := p.authenticate(r, params)
	if terr != nil {
		return nil, terr
	}
	code := params.Get("device_code")
	if code == "" {
		return nil, badRequest("invalid_request", "device_code is required")
	}
	now := p.now()
	g, terr := p.devices.poll(code, client, now)
	if terr != nil {
		return nil, terr
	}
	ac := &authCode{
		req:      &authRequest{client: g.client, scopes: g.scopes},
		user:     g.user,
		authTime: g.authTime,
		expires:  now.Add(codeLifetime),
		redeemed: true,
	}
	return p.issue(ac, now)
}

// poll returns the grant behind code once a person approved it, removing it, or the error
// the client must see now.
func (d *deviceStore) poll(code string, client *Client, now time.Time) (*deviceGrant, *tokenError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.byCode[code]
	switch {
	case g == nil || g.client != client:
		return nil, badRequest("invalid_grant", "the device code is unknown or was used")
	case !now.Before(g.expires):
		return nil, badRequest("expired_token", "the device code has expired")
	case g.denied:
		d.remove(code, g)
		return nil, badRequest("access_denied", "the user denied the authorization")
	case !g.lastPoll.IsZero() && now.Sub(g.lastPoll) < g.interval:
		g.lastPoll = now
		g.interval += slowDownStep
		return nil, badRequest("slow_down", "polling too fast")
	}
	g.lastPoll = now
	if g.user == nil {
		return nil, badRequest("authorization_pending", "the user has not signed in yet")
	}
	d.remove(code, g)
	return g, nil
}

func (d *deviceStore) remove(code string, g *deviceGrant) {
	delete(d.byCode, code)
	delete(d.byUser, g.userCode)
}

// decide records a person's answer for the user code: approved by user, or denied when
// user is nil. It reports false when no live authorization waits for that code.
func (d *deviceStore) decide(userCode string, user *account, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.byCode[d.byUser[normalizeUserCode(userCode)]]
	if g == nil || !now.Before(g.expires) || g.user != nil || g.denied {
		return false
	}
	if user == nil {
		g.denied = true
	} else {
		g.user, g.authTime = user, now
	}
	return true
}

// failed counts a wrong password against the user code and reports whether it may be
// tried again.
func (d *deviceStore) failed(userCode string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	g := d.byCode[d.byUser[normalizeUserCode(userCode)]]
	if g == nil {
		return false
	}
	g.attempts++
	if g.attempts >= loginAttempts {
		g.denied = true
		return false
	}
	return true
}

// devicePage is what the user code form shows.
type devicePage struct {
	Action   string
	UserCode string
	Username string
	Message  string
}

// The user code form asks for the code and the credentials at once, so one post signs the
// person in and approves the device.
var _ = template.Must(pages.New("device").Parse(`{{template "head" "Sign in a device"}}
<h1>Sign in a device</h1>
<p>Enter the code that your device shows, then sign in.</p>
{{if .Message}}<p id="error" class="alert" role="alert">{{.Message}}</p>{{end}}
<form method="post" action="{{.Action}}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off" required>
{{template "credentials" .}}`))

// serveDevicePage shows the user code form (GET, with user_code prefilled from
// verification_uri_complete) and handles its answer (POST).
func (p *Provider) serveDevicePage(w http.ResponseWriter, r *http.Request) {
	if !p.cfg.DeviceFlow {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet {
		p.showDevice(w, devicePage{UserCode: r.URL.Query().Get("user_code")})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.showError(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := r.PostForm
	code, now := f.Get("user_code"), p.now()
	if f.Get("action") == "deny" {
		if !p.devices.decide(code, nil, now) {
			p.showDevice(w, devicePage{UserCode: code, Message: "The code is not valid."})
			return
		}
		p.render(w, http.StatusOK, "message", messagePage{"Device not signed in", "denied",
			"You cancelled the sign-in. The device will not be signed in."})
		return
	}
	user := p.checkPassword(f.Get("username"), f.Get("password"))
	if user == nil {
		if !p.devices.failed(code) {
			p.showDevice(w, devicePage{UserCode: code, Message: "The code is not valid."})
			return
		}
		p.showDevice(w, devicePage{UserCode: code, Username: f.Get("username"),
			Message: "The username or password is wrong."})
		return
	}
	if !p.devices.decide(code, user, now) {
		p.showDevice(w, devicePage{Username: f.Get("username"), Message: "The code is not valid."})
		return
	}
	p.render(w, http.StatusOK, "message", messagePage{"Device signed in", "success",
		"Your device is signed in. You can close this page."})
}

func (p *Provider) showDevice(w http.ResponseWriter, page devicePage) {
	page.Action = p.base + devicePath
	p.render(w, http.StatusOK, "device", page)
}

// ApproveDevice drives the provider's user code page the way a person would: it opens
// verificationURI, enters userCode, username and password and presses the button with id
// "login". It returns nil once the provider says the device is signed in, and an error
// wrapping ErrLoginFailed when the page comes back with a message instead (a wrong code or
// password). A nil c means http.DefaultClient.
func ApproveDevice(c *http.Client, verificationURI, userCode, username, password string) error {
	fill := map[string]string{"user_code": userCode, "username": username, "password": password}
	return submitDevice(c, verificationURI, "login", "success", fill)
}

// DenyDevice opens verificationURI like ApproveDevice, enters userCode and presses the
// cancel button (id "deny"): the device's next poll gets access_denied.
func DenyDevice(c *http.Client, verificationURI, userCode string) error {
	return submitDevice(c, verificationURI, "deny", "denied", map[string]string{"user_code": userCode})
}

// submitDevice fills the user code form, presses button and expects a page with an element
// whose id is want.
func submitDevice(c *http.Client, verificationURI, button, want string,
	fill map[string]string) error {
	if c == nil {
		c = http.DefaultClient
	}
	resp, body, err := fetch(c, http.MethodGet, verificationURI, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("oidctest: device page: status %d: %s", resp.StatusCode,
			pageMessage(body))
	}
	f, err := findForm(body, button)
	if err != nil {
		return err
	}
	values, err := f.values(button, fill)
	if err != nil {
		return err
	}
	action, err := resp.Request.URL.Parse(f.action)
	if err != nil {
		return fmt.Errorf("oidctest: device form action: %w", err)
	}
	resp, body, err = fetch(c, f.method, action.String(), values)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK && pageHasID(body, want) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrLoginFailed, pageMessage(body))
}

// pageHasID reports whether an element of page has the id.
func pageHasID(page []byte, id string) bool {
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if e, ok := tok.(xml.StartElement); ok && hasID(e, id) {
			return true
		}
	}
}
