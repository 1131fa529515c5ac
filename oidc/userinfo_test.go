package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// login runs a successful Exchange with the given ID token claims.
func login(t *testing.T, idp *fakeIdP, rp *RelyingParty, claims map[string]any) *Login {
	t.Helper()
	idp.setToken(sign(t, jose.RS256, rsaKey, "rsa1", claims))
	l, err := rp.Exchange(context.Background(), testCode, testVerifier, testNonce)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return l
}

func TestUserinfo(t *testing.T) {
	cases := []struct {
		name     string
		idToken  map[string]any // added to the valid claims
		userinfo map[string]any
		reason   string // "" when accepted
		want     map[string]any
	}{
		{name: "C05 userinfo with only sub keeps the ID token claims",
			idToken: map[string]any{"sub": "LoLTfakeSubject=", "upn": "alice@corp.example",
				"unique_name": `CORP\alice`},
			userinfo: map[string]any{"sub": "LoLTfakeSubject="},
			want: map[string]any{"sub": "LoLTfakeSubject=", "upn": "alice@corp.example",
				"unique_name": `CORP\alice`}},
		{name: "C07 groups come from userinfo",
			idToken: map[string]any{"sub": "00uFAKEalice", "email": "alice@example.com"},
			userinfo: map[string]any{"sub": "00uFAKEalice",
				"groups": []any{"Everyone", "Qlik-Analysts"}},
			want: map[string]any{"sub": "00uFAKEalice", "email": "alice@example.com",
				"groups": []any{"Everyone", "Qlik-Analysts"}}},
		{name: "userinfo never replaces an ID token claim",
			idToken: map[string]any{"email": "alice@example.com", "groups": []any{}},
			userinfo: map[string]any{"sub": "alice", "email": "mallory@example.com",
				"groups": []any{"Admins"}},
			want: map[string]any{"email": "alice@example.com", "groups": []any{}}},
		{name: "C05 userinfo sub differs", userinfo: map[string]any{"sub": "mallory"},
			reason: "sub_mismatch"},
		{name: "userinfo without sub", userinfo: map[string]any{"email": "alice@example.com"},
			reason: "sub_missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idp := newFakeIdP(t)
			rp := idp.newRP(t, nil)
			if !rp.HasUserinfo() {
				t.Fatal("HasUserinfo = false")
			}
			claims := idp.claims()
			for k, v := range tc.idToken {
				claims[k] = v
			}
			l := login(t, idp, rp, claims)
			idp.mu.Lock()
			idp.userinfo = tc.userinfo
			idp.mu.Unlock()

			info, err := rp.Userinfo(context.Background(), l)
			if tc.reason != "" {
				var e *Error
				if !errors.Is(err, ErrUserinfo) || !errors.As(err, &e) || e.Reason != tc.reason {
					t.Fatalf("Userinfo = %v, want ErrUserinfo %s", err, tc.reason)
				}
				checkNoSecrets(t, err)
				return
			}
			if err != nil {
				t.Fatalf("Userinfo: %v", err)
			}
			merged := MergeClaims(l.Claims, info)
			for k, v := range tc.want {
				if !jsonEqual(merged[k], v) {
					t.Errorf("%s = %#v, want %#v", k, merged[k], v)
				}
			}
		})
	}
}

func TestUserinfoWithoutEndpoint(t *testing.T) {
	idp := newFakeIdP(t)
	idp.noUserinfo = true
	rp := idp.newRP(t, nil)
	if rp.HasUserinfo() {
		t.Fatal("HasUserinfo = true")
	}
	l := login(t, idp, rp, idp.claims())
	if _, err := rp.Userinfo(context.Background(), l); !errors.Is(err, ErrUserinfo) {
		t.Fatalf("Userinfo = %v, want ErrUserinfo", err)
	}
}

func TestUserinfoRefusedToken(t *testing.T) {
	idp := newFakeIdP(t)
	rp := idp.newRP(t, nil)
	l := login(t, idp, rp, idp.claims())
	l.Token.AccessToken = "expired-access-token"
	_, err := rp.Userinfo(context.Background(), l)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUserinfo) || e.Reason != "request" {
		t.Fatalf("Userinfo = %v, want ErrUserinfo request", err)
	}
}

func jsonEqual(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
