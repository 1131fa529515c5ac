package oidctest_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// deviceStart is the device authorization response.
type deviceStart struct {
	deviceCode, userCode, verify, verifyComplete string
	interval, expiresIn                          float64
}

// deviceEnv starts a provider with the device flow on.
func deviceEnv(t *testing.T) *env {
	return setup(t, func(c *oidctest.Config) { c.DeviceFlow = true })
}

// deviceEndpoint reads the device authorization endpoint from discovery, or "" when it
// is missing or the device grant is not announced.
func (e *env) deviceEndpoint(t *testing.T) string {
	t.Helper()
	var meta struct {
		Endpoint   string   `json:"device_authorization_endpoint"`
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := e.rp.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(meta.GrantTypes, deviceGrant) {
		return ""
	}
	return meta.Endpoint
}

// startDevice asks for a device authorization as the Basic client.
func (e *env) startDevice(t *testing.T) deviceStart {
	t.Helper()
	resp, m := e.postTo(t, e.srv.URL+"/device_authorization",
		url.Values{"scope": {"openid profile email"}}, basicAuth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("device authorization: %d %v", resp.StatusCode, m)
	}
	s := func(k string) string { v, _ := m[k].(string); return v }
	n := func(k string) float64 { v, _ := m[k].(float64); return v }
	return deviceStart{deviceCode: s("device_code"), userCode: s("user_code"),
		verify: s("verification_uri"), verifyComplete: s("verification_uri_complete"),
		interval: n("interval"), expiresIn: n("expires_in")}
}

// poll asks the token endpoint once for the device code's tokens as the Basic client.
func (e *env) poll(t *testing.T, deviceCode string) (*http.Response, map[string]any) {
	t.Helper()
	return e.postForm(t, url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode}},
		basicAuth)
}

func (e *env) postTo(t *testing.T, target string, form url.Values,
	edit func(*http.Request)) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return e.do(t, req)
}

func basicAuth(r *http.Request) {
	r.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSec))
}

func wantTokenError(t *testing.T, resp *http.Response, m map[string]any, code string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest || m["error"] != code {
		t.Fatalf("got %d %v, want 400 %s", resp.StatusCode, m, code)
	}
}

func TestDeviceFlow(t *testing.T) {
	e := deviceEnv(t)
	if !strings.HasSuffix(e.deviceEndpoint(t), "/device_authorization") {
		t.Fatalf("discovery does not announce the device authorization endpoint")
	}
	d := e.startDevice(t)
	if len(d.userCode) != 9 || d.userCode[4] != '-' || d.interval != 5 || d.expiresIn != 600 {
		t.Fatalf("device authorization %+v", d)
	}
	if d.verify != e.srv.URL+"/device" || !strings.Contains(d.verifyComplete, "user_code=") {
		t.Fatalf("verification URIs %q %q", d.verify, d.verifyComplete)
	}

	resp, m := e.poll(t, d.deviceCode)
	wantTokenError(t, resp, m, "authorization_pending")

	// The person enters the code in lower case, as people do.
	if err := oidctest.ApproveDevice(e.client, d.verify, strings.ToLower(d.userCode),
		"alice", "alice"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(5 * time.Second)
	resp, m = e.poll(t, d.deviceCode)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("poll after approval: %d %v", resp.StatusCode, m)
	}
	raw, _ := m["id_token"].(string)
	v := e.rp.Verifier(&oidc.Config{ClientID: basicID, Now: e.clock.Now})
	tok, err := v.Verify(e.ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = tok.Claims(&claims)
	if claims["preferred_username"] != "alice" || claims["nonce"] != nil {
		t.Errorf("claims %v: want alice's, without a nonce", claims)
	}

	// The device code is spent.
	e.clock.Add(5 * time.Second)
	resp, m = e.poll(t, d.deviceCode)
	wantTokenError(t, resp, m, "invalid_grant")
}

func TestDeviceFlowOff(t *testing.T) {
	e := setup(t, nil)
	if ep := e.deviceEndpoint(t); ep != "" {
		t.Errorf("discovery announces %q", ep)
	}
	resp, _ := e.postTo(t, e.srv.URL+"/device_authorization", url.Values{"scope": {"openid"}},
		basicAuth)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("device authorization: %d, want 404", resp.StatusCode)
	}
	resp, m := e.poll(t, "anything")
	wantTokenError(t, resp, m, "unsupported_grant_type")
}

func TestDevicePollErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(t *testing.T, e *env, d deviceStart) (*http.Response, map[string]any)
		want string
	}{
		{"polling faster than the interval", func(t *testing.T, e *env, d deviceStart) (
			*http.Response, map[string]any) {
			e.poll(t, d.deviceCode)
			e.clock.Add(4 * time.Second)
			return e.poll(t, d.deviceCode)
		}, "slow_down"},
		{"expired code", func(t *testing.T, e *env, d deviceStart) (
			*http.Response, map[string]any) {
			e.clock.Add(10 * time.Minute)
			return e.poll(t, d.deviceCode)
		}, "expired_token"},
		{"denied by the person", func(t *testing.T, e *env, d deviceStart) (
			*http.Response, map[string]any) {
			if err := oidctest.DenyDevice(e.client, d.verify, d.userCode); err != nil {
				t.Fatal(err)
			}
			return e.poll(t, d.deviceCode)
		}, "access_denied"},
		{"another client's code", func(t *testing.T, e *env, d deviceStart) (
			*http.Response, map[string]any) {
			return e.postForm(t, url.Values{"grant_type": {deviceGrant},
				"device_code": {d.deviceCode}, "client_id": {postID},
				"client_secret": {postSecret}}, nil)
		}, "invalid_grant"},
		{"no device code", func(t *testing.T, e *env, d deviceStart) (
			*http.Response, map[string]any) {
			return e.poll(t, "")
		}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := deviceEnv(t)
			d := e.startDevice(t)
			resp, m := tc.act(t, e, d)
			wantTokenError(t, resp, m, tc.want)
		})
	}
}

func TestDeviceAuthorizationRefusals(t *testing.T) {
	e := deviceEnv(t)
	target := e.srv.URL + "/device_authorization"
	resp, m := e.postTo(t, target, url.Values{"scope": {"openid"}, "client_id": {basicID}}, nil)
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_client" {
		t.Errorf("without a secret: %d %v, want invalid_client", resp.StatusCode, m)
	}
	resp, m = e.postTo(t, target, url.Values{"scope": {"profile"}}, basicAuth)
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_scope" {
		t.Errorf("without openid: %d %v, want invalid_scope", resp.StatusCode, m)
	}
}

func TestDevicePage(t *testing.T) {
	e := deviceEnv(t)
	d := e.startDevice(t)

	// verification_uri_complete fills in the code.
	_, m := e.get(t, d.verifyComplete)
	if !strings.Contains(m["html"].(string), `value="`+d.userCode+`"`) {
		t.Errorf("the complete URI does not prefill the code")
	}
	for _, tc := range []struct{ name, code, pass, want string }{
		{"unknown code", "BBBB-BBBB", "alice", "The code is not valid."},
		{"wrong password", d.userCode, "wrong", "The username or password is wrong."},
	} {
		err := oidctest.ApproveDevice(e.client, d.verify, tc.code, "alice", tc.pass)
		if !errors.Is(err, oidctest.ErrLoginFailed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrLoginFailed saying %q", tc.name, err, tc.want)
		}
	}
	if err := oidctest.ApproveDevice(e.client, d.verify, d.userCode, "bob", "bob"); err != nil {
		t.Fatal(err)
	}
	// A code is approved once: nobody else can take it over afterwards.
	err := oidctest.ApproveDevice(e.client, d.verify, d.userCode, "alice", "alice")
	if !errors.Is(err, oidctest.ErrLoginFailed) {
		t.Errorf("second approval: %v, want ErrLoginFailed", err)
	}
}
