package oidc

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

const (
	tenantA = "72f988bf-0000-4000-8000-0000000000a1"
	tenantB = "72f988bf-0000-4000-8000-0000000000b2"
)

// multiTenantIdP serves the discovery document of Entra ID's "organizations" issuer, which
// announces the issuer with {tenantid}; keys and tokens come from a fakeIdP.
func multiTenantIdP(t *testing.T, announced string) (*fakeIdP, string) {
	idp := newFakeIdP(t)
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	mux.HandleFunc("GET /organizations/v2.0/.well-known/openid-configuration",
		func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{
				"issuer":                 strings.ReplaceAll(announced, "BASE", srv.URL),
				"authorization_endpoint": srv.URL + "/organizations/oauth2/v2.0/authorize",
				"token_endpoint":         idp.srv.URL + "/token",
				"jwks_uri":               idp.srv.URL + "/keys",
			})
		})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return idp, srv.URL
}

func newMultiTenantRP(t *testing.T, announced string) (*fakeIdP, *RelyingParty, string) {
	t.Helper()
	idp, base := multiTenantIdP(t, announced)
	cfg := idp.config()
	cfg.Issuer = base + "/organizations/v2.0"
	cfg.Tenants = []string{strings.ToUpper(tenantA)}
	rp, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return idp, rp, base
}

func TestMultiTenantIDTokens(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tid, iss string // iss: "" = the tid's issuer
		reason   string // "" = accepted
	}{
		{"a listed tenant", tenantA, "", ""},
		{"a tenant not listed", tenantB, "", "tenant_not_allowed"},
		{"a listed tid with another tenant's issuer", tenantA, "BASE/" + tenantB + "/v2.0",
			"issuer_mismatch"},
		{"the placeholder as issuer", tenantA, "BASE/{tenantid}/v2.0", "issuer_mismatch"},
		{"the organizations issuer", tenantA, "BASE/organizations/v2.0", "issuer_mismatch"},
		{"no tid", "", "BASE/" + tenantA + "/v2.0", "tenant_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp, rp, base := newMultiTenantRP(t, "BASE/{tenantid}/v2.0")
			claims := idp.claims()
			claims["iss"] = base + "/" + tc.tid + "/v2.0"
			if tc.iss != "" {
				claims["iss"] = strings.ReplaceAll(tc.iss, "BASE", base)
			}
			if tc.tid != "" {
				claims["tid"] = tc.tid
			}
			raw := sign(t, jose.RS256, rsaKey, "rsa1", claims)
			idp.setToken(raw)
			_, err := rp.Exchange(context.Background(), testCode, testVerifier, testNonce)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				var e *Error
				if !errors.Is(err, ErrVerify) || !errors.As(err, &e) || e.Reason != tc.reason {
					t.Fatalf("Exchange = %v, want reason %q", err, tc.reason)
				}
			}

			// Callers of the plain verifier (logout tokens) cannot skip the tenant check:
			// it expects the placeholder issuer, which no token carries.
			if _, err := rp.verifier.Verify(context.Background(), raw); err == nil {
				t.Error("the plain verifier accepted a multi-tenant token")
			}
			// Access tokens get the same tenant check.
			login := &Login{Subject: "alice", Token: &oauth2.Token{AccessToken: raw}}
			if _, err := rp.AccessTokenClaims(context.Background(), login); (err == nil) !=
				(tc.reason == "") {
				t.Errorf("AccessTokenClaims = %v", err)
			}
		})
	}
}

func TestMultiTenantDiscovery(t *testing.T) {
	_, base := multiTenantIdP(t, "BASE/"+tenantA+"/v2.0")
	idp := newFakeIdP(t)
	cfg := idp.config()
	cfg.Issuer = base + "/organizations/v2.0"
	cfg.Tenants = []string{tenantA}
	_, err := New(context.Background(), cfg)
	var e *Error
	if !errors.Is(err, ErrDiscovery) || !errors.As(err, &e) || e.Reason != "issuer_mismatch" ||
		!strings.Contains(e.Detail, "{tenantid}") {
		t.Fatalf("New = %v", err)
	}
}

func TestMultiTenantConfig(t *testing.T) {
	base := Config{ClientID: "c", ClientSecret: "s", RedirectURL: testRedirect}
	for _, tc := range []struct {
		name, issuer string
		tenants      []string
		want         string // "" = valid
	}{
		{"organizations", "https://login.microsoftonline.com/organizations/v2.0",
			[]string{tenantA}, ""},
		{"common", "https://login.microsoftonline.com/common/v2.0", []string{tenantA}, ""},
		{"organizations without tenants", "https://login.microsoftonline.com/organizations/v2.0",
			nil, "is multi-tenant: list the tenant ids"},
		{"tenants with one tenant's issuer",
			"https://login.microsoftonline.com/" + tenantA + "/v2.0", []string{tenantA},
			"Tenants needs the multi-tenant Issuer"},
		{"consumers is no multi-tenant issuer", "https://login.microsoftonline.com/consumers/v2.0",
			[]string{tenantA}, "Tenants needs the multi-tenant Issuer"},
		{"a tenant name", "https://login.microsoftonline.com/organizations/v2.0",
			[]string{"contoso.onmicrosoft.com"}, "not a tenant id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.Issuer, cfg.Tenants = tc.issuer, tc.tenants
			_, err := cfg.validate()
			if tc.want == "" && err != nil || tc.want != "" &&
				(!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("validate = %v, want %q", err, tc.want)
			}
		})
	}
}
