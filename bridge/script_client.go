package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ScriptClient speaks to a bridge's command-line endpoints; qlik-oidc-bridge login is built
// on it. It is safe for concurrent use. The zero value has no bridge and fails every call.
type ScriptClient struct {
	// BridgeURL is the bridge's public URL, as in server.public_url. Required.
	BridgeURL string
	// HTTPClient makes the calls; nil means a client that gives up after 30 seconds.
	HTTPClient *http.Client
}

var defaultScriptHTTP = &http.Client{Timeout: 30 * time.Second, CheckRedirect: NoRedirects}

// NoRedirects is an http.Client CheckRedirect that follows none: the bridge never redirects
// its command-line endpoints, and following one would resend a verifier or a session id to
// another address.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Info asks the bridge which virtual proxies and ways it offers.
func (sc *ScriptClient) Info(ctx context.Context) (*ScriptInfo, error) {
	var info ScriptInfo
	return &info, sc.call(ctx, http.MethodGet, "/cli/config", nil, &info)
}

// LoginURL is the page to open in a browser for the browser way: the bridge's login for
// the virtual proxy prefix, which ends at redirectURI (the command's listener on a
// loopback IP) with a one-time code and state.
func (sc *ScriptClient) LoginURL(prefix, redirectURI, challenge, state string) string {
	v := url.Values{
		"proxy":                 {prefix},
		"redirect_uri":          {redirectURI},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	if state != "" {
		v.Set("state", state)
	}
	return sc.base() + "/cli/login?" + v.Encode()
}

// Redeem exchanges the one-time code of the browser way, with the verifier of the
// challenge the login started with, for the Qlik session.
func (sc *ScriptClient) Redeem(ctx context.Context, code, verifier string) (*ScriptSession, error) {
	var s ScriptSession
	err := sc.call(ctx, http.MethodPost, "/cli/token",
		scriptTokenRequest{Code: code, Verifier: verifier}, &s)
	return &s, err
}

// StartDevice starts the device way for the virtual proxy prefix.
func (sc *ScriptClient) StartDevice(ctx context.Context, prefix, challenge string) (
	*ScriptDevice, error) {
	var d ScriptDevice
	err := sc.call(ctx, http.MethodPost, "/cli/device",
		scriptStartRequest{Proxy: prefix, Challenge: challenge}, &d)
	return &d, err
}

// PollDevice asks once whether the person has entered the user code. Until they have, the
// error is a *ScriptError with the code ScriptErrPending or ScriptErrSlowDown.
func (sc *ScriptClient) PollDevice(ctx context.Context, handle, verifier string) (
	*ScriptSession, error) {
	var s ScriptSession
	err := sc.call(ctx, http.MethodPost, "/cli/token",
		scriptTokenRequest{Handle: handle, Verifier: verifier}, &s)
	return &s, err
}

// Check reports whether the session is alive, and until when the bridge estimates it
// stays so without use. It creates nothing.
func (sc *ScriptClient) Check(ctx context.Context, s *ScriptSession) (bool, time.Time, error) {
	var st scriptSessionState
	err := sc.call(ctx, http.MethodPost, "/cli/session",
		scriptSessionRequest{Proxy: s.Proxy, SessionID: s.CookieValue}, &st)
	return st.Alive, st.Expires, err
}

// Logout ends the session on every node of its virtual proxy.
func (sc *ScriptClient) Logout(ctx context.Context, s *ScriptSession) error {
	return sc.call(ctx, http.MethodPost, "/cli/logout",
		scriptSessionRequest{Proxy: s.Proxy, SessionID: s.CookieValue}, nil)
}

func (sc *ScriptClient) base() string { return strings.TrimSuffix(sc.BridgeURL, "/") }

// call sends in as JSON (none for nil) and decodes a 200 answer into out. Any other answer
// is a *ScriptError.
func (sc *ScriptClient) call(ctx context.Context, method, path string, in, out any) error {
	if sc.BridgeURL == "" {
		return fmt.Errorf("bridge: ScriptClient has no BridgeURL")
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("bridge: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, sc.base()+path, body)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := sc.HTTPClient
	if hc == nil {
		hc = defaultScriptHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bridge: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("bridge: %s %s: %w", method, path, err)
	}

	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("bridge: %s %s was redirected to %q; give the bridge's own "+
			"address with --bridge", method, path, resp.Header.Get("Location"))
	}
	if resp.StatusCode != http.StatusOK {
		se := &ScriptError{Status: resp.StatusCode}
		if json.Unmarshal(data, se) != nil || se.Code == "" {
			return fmt.Errorf("bridge: %s %s answered %d; is %s a qlik-oidc-bridge of "+
				"this version?", method, path, resp.StatusCode, sc.base())
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("bridge: %s %s: the answer is not the expected JSON: %w",
			method, path, err)
	}
	return nil
}
