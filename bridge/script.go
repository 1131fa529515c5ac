package bridge

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Command-line logins (qlik-oidc-bridge login) give a script a Qlik proxy session after the
// same sign-in at the identity provider, mapping and access rules as a browser. The bridge
// stays the only client of the provider: a command receives a Qlik session and nothing
// else. Every step is bound to a code verifier only the waiting command holds (as in PKCE):
// it sends the S256 challenge when it starts and the verifier when it finishes, so a code
// or handle seen on the way is useless alone, and each is redeemed once.
//
// Two ways, under <public_url>/cli/:
//   - browser: the command opens GET /cli/login in a browser; after the usual login the
//     callback asks the person to allow the command, and only the answer, posted from that
//     page, sends the browser to the command's loopback listener with a one-time code
//     (script_browser.go, script_consent.go);
//   - device: when the provider offers the device authorization grant, POST /cli/device
//     starts one and the command polls POST /cli/token, which polls the provider once per
//     call (script_device.go).
//
// Either way ends in POST /cli/token, which adds the proxy session to every node of the
// virtual proxy, whatever its mode (script_token.go).

// Settings of scripts.device_flow.
const (
	DeviceFlowAuto = "auto"
	DeviceFlowOff  = "off"
)

// ScriptsConfig turns command-line logins on. The zero value keeps them off.
type ScriptsConfig struct {
	// Enabled turns the /cli endpoints on; false answers each with scripts_disabled.
	Enabled bool `yaml:"enabled"`
	// Proxies are the prefixes of the virtual proxies a script may log in to; the first
	// is the default. Empty means every configured virtual proxy, in their order.
	Proxies []string `yaml:"proxies"`
	// DeviceFlow is "auto" (the default: offer the device authorization grant when the
	// provider's discovery names a device_authorization_endpoint) or "off".
	DeviceFlow string `yaml:"device_flow"`
	// SessionTimeout is the virtual proxies' session inactivity timeout as set in the
	// QMC, for the expiry a command is told; zero means 30m, Qlik's default.
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

func (c *ScriptsConfig) check(p *problems, proxies []VirtualProxyConfig) {
	switch c.DeviceFlow {
	case "":
		c.DeviceFlow = DeviceFlowAuto
	case DeviceFlowAuto, DeviceFlowOff:
	default:
		p.add("scripts.device_flow", "must be auto or off")
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 30 * time.Minute
	}
	if c.SessionTimeout < time.Minute || c.SessionTimeout > 24*time.Hour {
		p.add("scripts.session_timeout", "must be between 1m and 24h")
	}
	for i, prefix := range c.Proxies {
		known := false
		for _, vp := range proxies {
			known = known || vp.Prefix == prefix
		}
		if !known {
			p.add(fmt.Sprintf("scripts.proxies[%d]", i),
				fmt.Sprintf("%q is not the prefix of a virtual proxy in qlik.virtual_proxies", prefix))
		}
	}
}

// scriptLogin is the part of a login's state that belongs to a command-line tool: where
// the browser returns and what binds the login to the waiting command.
type scriptLogin struct {
	Redirect  string `json:"r"`           // the command's loopback URL
	Challenge string `json:"c"`           // S256 of the command's code verifier
	State     string `json:"s,omitempty"` // the command's state, sent back as it came
}

// scripts serves the command-line endpoints.
type scripts struct {
	s    *Server
	cfg  *ScriptsConfig
	used *usedIDs
}

// scriptRoutes adds the routes that command-line tools use.
func (s *Server) scriptRoutes(e *echo.Echo, base string) {
	sc := &scripts{s: s, cfg: &s.cfg.Scripts, used: newUsedIDs(s.now)}
	e.GET(base+"/cli/config", sc.info)
	e.GET(base+"/cli/login", sc.browserLogin)
	e.POST(base+"/cli/login", sc.confirm)
	e.POST(base+"/cli/device", sc.startDevice)
	e.POST(base+"/cli/token", sc.token)
	e.POST(base+"/cli/session", sc.checkSession)
	e.POST(base+"/cli/logout", sc.logout)
}

// info tells a command which virtual proxies it may use and which ways are open.
func (sc *scripts) info(c echo.Context) error {
	if !sc.cfg.Enabled {
		return sc.disabled(c)
	}
	info := ScriptInfo{DeviceFlow: sc.deviceFlow(), BrowserFlow: true}
	for _, p := range sc.proxies() {
		info.Proxies = append(info.Proxies,
			ScriptProxy{Prefix: p.cfg.Prefix, QlikURL: p.cfg.public.String()})
	}
	return c.JSON(http.StatusOK, info)
}

// proxies returns the virtual proxies scripts may use, the default first.
func (sc *scripts) proxies() []*proxy {
	if len(sc.cfg.Proxies) == 0 {
		return sc.s.proxies
	}
	var list []*proxy
	for _, prefix := range sc.cfg.Proxies {
		if p := sc.s.proxyByPrefix(prefix); p != nil {
			list = append(list, p)
		}
	}
	return list
}

// proxy returns the virtual proxy with prefix if scripts may use it, or nil.
func (sc *scripts) proxy(prefix string) *proxy {
	for _, p := range sc.proxies() {
		if p.cfg.Prefix == prefix {
			return p
		}
	}
	return nil
}

// deviceFlow reports whether the device authorization grant is offered.
func (sc *scripts) deviceFlow() bool {
	return sc.cfg.DeviceFlow != DeviceFlowOff && sc.s.rp.DeviceAuthorizationEndpoint() != ""
}

// fail answers a command with a ScriptError.
func (sc *scripts) fail(c echo.Context, status int, code, description string) error {
	return c.JSON(status, &ScriptError{Code: code, Description: description,
		Reference: requestID(c)})
}

// failWith answers a command with e.
func (sc *scripts) failWith(c echo.Context, e *ScriptError) error {
	return sc.fail(c, e.Status, e.Code, e.Description)
}

func (sc *scripts) disabled(c echo.Context) error {
	return sc.fail(c, http.StatusForbidden, ScriptErrDisabled,
		"command-line logins are turned off at this bridge; an administrator can turn them "+
			"on with scripts.enabled")
}

func (sc *scripts) unknownProxy(c echo.Context, prefix string) error {
	return sc.fail(c, http.StatusNotFound, ScriptErrUnknownProxy,
		fmt.Sprintf("no virtual proxy with the prefix %q is open to command-line logins here",
			bounded(prefix, 64)))
}

// maxScriptBody bounds the JSON body of a command's request.
const maxScriptBody = 16 << 10

// readJSON decodes a command's JSON request body of at most maxScriptBody bytes into v.
// Only application/json is read, so that no HTML form of another site can post here. The
// ScriptError it returns to send says what is wrong in the terms of the JSON, never of Go.
func readJSON(c echo.Context, v any) *ScriptError {
	r := c.Request()
	bad := func(status int, msg string) *ScriptError {
		return &ScriptError{Status: status, Code: ScriptErrInvalidRequest, Description: msg}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return bad(http.StatusBadRequest, "the body must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), r.Body, maxScriptBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return bad(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the body is too large: at most %d KiB", maxScriptBody>>10))
	case errors.Is(err, io.EOF):
		return bad(http.StatusBadRequest, "the body is empty; it must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad(http.StatusBadRequest, "the body ends inside its JSON")
	case errors.As(err, &syntax):
		return bad(http.StatusBadRequest,
			fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset))
	case errors.As(err, &typ) && typ.Field != "":
		return bad(http.StatusBadRequest,
			fmt.Sprintf("%q must be %s", bounded(typ.Field, 64), jsonTypeName(typ.Type.Kind())))
	case errors.As(err, &typ):
		return bad(http.StatusBadRequest, "the body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return bad(http.StatusBadRequest, bounded(strings.TrimPrefix(err.Error(), "json: "), 96))
	}
	return bad(http.StatusBadRequest, "the body is not the expected JSON object")
}

// jsonTypeName names what JSON holds a value of kind k.
func jsonTypeName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return "a number"
}

// validChallenge accepts an S256 code challenge: 43 base64url characters.
func validChallenge(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(s) == 43 && len(b) == 32
}

// verifierMatches checks a command's code verifier against the challenge it started with.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(ScriptChallenge(verifier)), []byte(challenge)) == 1
}

// refusalOf returns the refusal inside err, or a general one.
func refusalOf(err error) *refusal {
	var r *refusal
	if !errors.As(err, &r) {
		r = &refusal{Reason: "your account cannot be used with Qlik Sense", Rule: err.Error()}
	}
	return r
}
