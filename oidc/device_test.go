package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

var deviceKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// deviceClock is a settable clock shared by the provider and the relying party.
type deviceClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *deviceClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *deviceClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type deviceEnv struct {
	rp     *oidc.RelyingParty
	idp    *oidctest.Provider
	verify func(d *oidc.DeviceAuthorization, user string) error
	deny   func(d *oidc.DeviceAuthorization) error
	clock  *deviceClock
}

// newDeviceEnv starts the test provider and a relying party for its client; edit changes
// the provider's configuration and method the client's auth method.
func newDeviceEnv(t *testing.T, method string, edit func(*oidctest.Config)) *deviceEnv {
	t.Helper()
	clk := &deviceClock{t: time.Now()}
	cfg := oidctest.Config{
		Users: oidctest.DemoUsers(),
		Clients: []oidctest.Client{{ID: "bridge", Secret: "bridge-secret-value",
			AuthMethod: method, RedirectURIs: []string{"https://bridge.example.com/callback"}}},
		Key:        deviceKey(),
		Now:        clk.Now,
		DeviceFlow: true,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, srv := oidctest.NewServer(t, cfg)
	rp, err := oidc.New(context.Background(), oidc.Config{
		Issuer: srv.URL, ClientID: "bridge", ClientSecret: "bridge-secret-value",
		RedirectURL: "https://bridge.example.com/callback", AuthMethod: method,
		HTTPClient: srv.Client(), Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &deviceEnv{rp: rp, idp: p, clock: clk,
		verify: func(d *oidc.DeviceAuthorization, user string) error {
			return oidctest.ApproveDevice(srv.Client(), d.VerificationURI, d.UserCode, user, user)
		},
		deny: func(d *oidc.DeviceAuthorization) error {
			return oidctest.DenyDevice(srv.Client(), d.VerificationURI, d.UserCode)
		},
	}
}

func wantKind(t *testing.T, err, kind error, reason string) {
	t.Helper()
	var oe *oidc.Error
	if !errors.Is(err, kind) || !errors.As(err, &oe) || oe.Reason != reason {
		t.Fatalf("got %v, want kind %v with reason %s", err, kind, reason)
	}
}

func TestDeviceGrant(t *testing.T) {
	for _, method := range []string{oidc.AuthMethodBasic, oidc.AuthMethodPost} {
		t.Run(method, func(t *testing.T) {
			e := newDeviceEnv(t, method, nil)
			ctx := context.Background()
			if e.rp.DeviceAuthorizationEndpoint() == "" {
				t.Fatal("the device authorization endpoint is not found")
			}
			d, err := e.rp.StartDevice(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d.Interval != 5*time.Second || !d.Expiry.Equal(e.clock.Now().Add(10*time.Minute)) ||
				d.VerificationURIComplete == "" {
				t.Errorf("device authorization %+v", d)
			}

			_, err = e.rp.PollDevice(ctx, d.DeviceCode)
			wantKind(t, err, oidc.ErrDevicePending, "authorization_pending")
			if strings.Contains(err.Error(), d.DeviceCode) {
				t.Error("the error names the device code")
			}

			if err := e.verify(d, "alice"); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(d.Interval)
			login, err := e.rp.PollDevice(ctx, d.DeviceCode)
			if err != nil {
				t.Fatal(err)
			}
			if login.Claims["preferred_username"] != "alice" || login.Token.AccessToken == "" ||
				login.Token.Extra("id_token") != login.RawIDToken {
				t.Errorf("login %+v", login)
			}
			// The access token serves userinfo, as after a code exchange.
			if ui, err := e.rp.Userinfo(ctx, login); err != nil || ui["email"] != "alice@example.com" {
				t.Errorf("userinfo %v, %v", ui, err)
			}
		})
	}
}

func TestDeviceGrantOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		act    func(t *testing.T, e *deviceEnv, d *oidc.DeviceAuthorization)
		kind   error
		reason string
	}{
		{"polling too fast", func(t *testing.T, e *deviceEnv, d *oidc.DeviceAuthorization) {
			_, _ = e.rp.PollDevice(context.Background(), d.DeviceCode)
		}, oidc.ErrDevicePending, "slow_down"},
		{"denied", func(t *testing.T, e *deviceEnv, d *oidc.DeviceAuthorization) {
			if err := e.deny(d); err != nil {
				t.Fatal(err)
			}
		}, oidc.ErrDeviceDenied, "access_denied"},
		{"expired", func(t *testing.T, e *deviceEnv, d *oidc.DeviceAuthorization) {
			e.clock.Add(11 * time.Minute)
		}, oidc.ErrDeviceExpired, "expired_token"},
		{"used", func(t *testing.T, e *deviceEnv, d *oidc.DeviceAuthorization) {
			if err := e.verify(d, "bob"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.rp.PollDevice(context.Background(), d.DeviceCode); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(d.Interval)
		}, oidc.ErrProvider, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDeviceEnv(t, "", nil)
			d, err := e.rp.StartDevice(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			tc.act(t, e, d)
			_, err = e.rp.PollDevice(context.Background(), d.DeviceCode)
			wantKind(t, err, tc.kind, tc.reason)
		})
	}
}

func TestDeviceGrantUnsupported(t *testing.T) {
	e := newDeviceEnv(t, "", func(c *oidctest.Config) { c.DeviceFlow = false })
	if ep := e.rp.DeviceAuthorizationEndpoint(); ep != "" {
		t.Errorf("endpoint %q", ep)
	}
	_, err := e.rp.StartDevice(context.Background())
	wantKind(t, err, oidc.ErrDeviceUnsupported, "device_unsupported")
}

// The ID token of the device grant passes every check of the code flow but the nonce.
func TestPollDeviceVerifiesIDToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(map[string]any)
		reason string
	}{
		{"another audience", func(c map[string]any) { c["aud"] = []string{"bridge", "other"} },
			"audience"},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() },
			"expired"},
		{"another issuer", func(c map[string]any) { c["iss"] = "https://evil.example" },
			"issuer_mismatch"},
		{"azp of another client", func(c map[string]any) { c["azp"] = "other" }, "azp_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDeviceEnv(t, "", func(c *oidctest.Config) { c.EditIDToken = tc.edit })
			d, err := e.rp.StartDevice(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := e.verify(d, "alice"); err != nil {
				t.Fatal(err)
			}
			_, err = e.rp.PollDevice(context.Background(), d.DeviceCode)
			wantKind(t, err, oidc.ErrVerify, tc.reason)
		})
	}
}

func TestPollDeviceNeedsCode(t *testing.T) {
	e := newDeviceEnv(t, "", nil)
	_, err := e.rp.PollDevice(context.Background(), "")
	wantKind(t, err, oidc.ErrExchange, "missing_input")
}
