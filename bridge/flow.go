package bridge

import (
	"cmp"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// A login in flight is carried by two sealed values and nothing in the bridge's memory, so
// any instance with the same keys can finish it:
//   - the state parameter, which travels through the identity provider, says where the
//     login started and where it should end;
//   - the flow cookie, named after the state's id so that several tabs can log in at once,
//     holds the nonce and the PKCE verifier, which must never leave the browser's jar.
// The two share a random id, so a state only opens with its own cookie.

const (
	flowCookiePrefix = "qob_flow_"
	purposeState     = "qlik-oidc-bridge state v1"
	purposeFlow      = "qlik-oidc-bridge flow v1"
)

var errExpired = errors.New("bridge: login expired")

// loginState is sealed into the state parameter.
type loginState struct {
	ID       string `json:"i"`
	Proxy    string `json:"p"`           // virtual proxy prefix
	Target   string `json:"t,omitempty"` // an allowed target URL, or "" for the landing URL
	FromQlik bool   `json:"q,omitempty"` // Qlik sent the user (proxyRestUri, targetId)
	Node     int    `json:"n,omitempty"` // index of the node Qlik named
	TargetID string `json:"g,omitempty"` // Qlik's targetId
	Expires  int64  `json:"e"`
	// Script, when set, is a login for a command-line tool rather than a browser session.
	Script *scriptLogin `json:"x,omitempty"`
}

// flowSecrets is sealed into the flow cookie.
type flowSecrets struct {
	ID       string `json:"i"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// newFlow fills in the random parts of a login: id, nonce and PKCE verifier.
func newFlow(rand io.Reader, st *loginState, now time.Time, life time.Duration) (flowSecrets, error) {
	var b [16 + 16 + 32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return flowSecrets{}, fmt.Errorf("bridge: random: %w", err)
	}
	enc := base64.RawURLEncoding
	st.ID = enc.EncodeToString(b[:16])
	st.Expires = now.Add(life).Unix()
	return flowSecrets{
		ID:       st.ID,
		Nonce:    enc.EncodeToString(b[16:32]),
		Verifier: enc.EncodeToString(b[32:]), // 43 characters, as RFC 7636 asks
		Expires:  st.Expires,
	}, nil
}

func (s *Server) sealJSON(purpose string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return s.seal.seal(purpose, b)
}

// openState opens a state parameter. It reports errExpired for a genuine but old state, so
// the user can be offered a fresh login to the same page.
func (s *Server) openState(raw string) (*loginState, error) {
	b, err := s.seal.open(purposeState, raw)
	if err != nil {
		return nil, err
	}
	var st loginState
	if err := json.Unmarshal(b, &st); err != nil || st.ID == "" {
		return nil, errUnsealed
	}
	if s.now().Unix() > st.Expires {
		return &st, errExpired
	}
	return &st, nil
}

// openFlow finds and opens the flow cookie that belongs to st.
func (s *Server) openFlow(r *http.Request, st *loginState) (*flowSecrets, error) {
	ck, err := r.Cookie(flowCookiePrefix + st.ID)
	if err != nil {
		return nil, err
	}
	b, err := s.seal.open(purposeFlow, ck.Value)
	if err != nil {
		return nil, err
	}
	var f flowSecrets
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, errUnsealed
	}
	if subtle.ConstantTimeCompare([]byte(f.ID), []byte(st.ID)) != 1 {
		return nil, errUnsealed
	}
	if s.now().Unix() > f.Expires {
		return nil, errExpired
	}
	return &f, nil
}

// maxFlows bounds the logins in flight per browser: each holds a cookie, and a browser
// whose user starts many logins without finishing them would otherwise send a header too
// large for a reverse proxy.
const maxFlows = 5

// pruneFlows deletes the oldest flow cookies of r so that one more fits under maxFlows.
func (s *Server) pruneFlows(c echo.Context) {
	type flow struct {
		name    string
		expires int64
	}
	var flows []flow
	for _, ck := range c.Request().Cookies() {
		if !strings.HasPrefix(ck.Name, flowCookiePrefix) {
			continue
		}
		f := flow{name: ck.Name} // one that does not open counts as oldest
		if b, err := s.seal.open(purposeFlow, ck.Value); err == nil {
			var fs flowSecrets
			if json.Unmarshal(b, &fs) == nil {
				f.expires = fs.Expires
			}
		}
		flows = append(flows, f)
	}
	if len(flows) < maxFlows {
		return
	}
	// Stable: browsers send cookies oldest first, which orders logins of the same second.
	slices.SortStableFunc(flows, func(a, b flow) int { return cmp.Compare(a.expires, b.expires) })
	for _, f := range flows[:len(flows)-maxFlows+1] {
		c.SetCookie(s.flowCookie(strings.TrimPrefix(f.name, flowCookiePrefix), ""))
	}
}

// flowCookie returns the cookie that carries f, or deletes it when value is "".
func (s *Server) flowCookie(id, value string) *http.Cookie {
	c := &http.Cookie{
		Name:     flowCookiePrefix + id,
		Value:    value,
		Path:     s.cfg.Server.public.Path + "/", // /login sees them too, to prune them
		MaxAge:   int(s.cfg.FlowLifetime / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	}
	return c
}
