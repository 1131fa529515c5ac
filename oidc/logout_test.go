package oidc

import (
	"context"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Each rule of Back-Channel Logout 1.0 has its case; every refusal is ErrVerify.
func TestVerifyLogoutToken(t *testing.T) {
	idp := newFakeIdP(t)
	rp := idp.newRP(t, nil)
	now := testNow.Unix()
	valid := func() map[string]any {
		return map[string]any{
			"iss": idp.srv.URL, "aud": testClientID, "iat": now, "jti": "j-" + t.Name(),
			"sub": "alice", "sid": "s1",
			"events": map[string]any{backchannelEvent: map[string]any{}},
		}
	}
	for _, tc := range []struct {
		name   string
		edit   func(map[string]any)
		reason string // "" = accepted
	}{
		{name: "valid"},
		{name: "sid only", edit: drop("sub")},
		{name: "sub only", edit: drop("sid")},
		{name: "neither sub nor sid", edit: func(c map[string]any) {
			delete(c, "sub")
			delete(c, "sid")
		}, reason: "no_subject"},
		{name: "nonce", edit: set("nonce", "n"), reason: "nonce_present"},
		{name: "no events", edit: drop("events"), reason: "events"},
		{name: "other event", edit: set("events", map[string]any{"urn:x": map[string]any{}}),
			reason: "events"},
		{name: "event not an object", edit: set("events", map[string]any{backchannelEvent: true}),
			reason: "events"},
		{name: "wrong audience", edit: set("aud", "other")},
		{name: "wrong issuer", edit: set("iss", "https://evil.example")},
		{name: "no iat", edit: drop("iat"), reason: "iat_missing"},
		{name: "iat in the future", edit: set("iat", now+600), reason: "iat_future"},
		{name: "iat too old", edit: set("iat", now-3600), reason: "iat_old"},
		{name: "expired", edit: set("exp", now-3600), reason: "expired"},
		{name: "no jti", edit: drop("jti"), reason: "jti_missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			c["jti"] = "jti-" + tc.name
			if tc.edit != nil {
				tc.edit(c)
			}
			raw := sign(t, jose.RS256, rsaKey, "rsa1", c)
			lt, err := rp.VerifyLogoutToken(context.Background(), raw)
			wantOK := tc.reason == "" && tc.name != "wrong audience" && tc.name != "wrong issuer"
			if wantOK {
				if err != nil || (lt.Subject == "" && lt.SID == "") {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("err = %v, want ErrVerify", err)
			}
			var e *Error
			if tc.reason != "" && (!errors.As(err, &e) || e.Reason != tc.reason) {
				t.Errorf("reason = %v, want %s", err, tc.reason)
			}
		})
	}

	t.Run("replayed", func(t *testing.T) {
		raw := sign(t, jose.RS256, rsaKey, "rsa1", valid())
		if _, err := rp.VerifyLogoutToken(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
		_, err := rp.VerifyLogoutToken(context.Background(), raw)
		var e *Error
		if !errors.As(err, &e) || e.Reason != "replayed" {
			t.Errorf("second use: %v", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		if _, err := rp.VerifyLogoutToken(context.Background(), unsigned(t, valid())); err == nil {
			t.Error("an unsigned logout token was accepted")
		}
	})
}
