package bridge

import (
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

func TestAccessRules(t *testing.T) {
	alice := qlik.Identity{UserDirectory: "D", UserID: "alice",
		Attributes: []qlik.Attribute{{Key: "Group", Value: "Sales"}, {Key: "email", Value: "Finance"}}}
	for _, tc := range []struct {
		name   string
		access Access
		ok     bool
	}{
		{"nothing configured lets nobody in", Access{}, false},
		{"everyone", Access{AnyAuthenticatedUser: true}, true},
		{"group member", Access{Groups: []string{"Finance", "Sales"}}, true},
		{"attribute of another key is no group", Access{Groups: []string{"Finance"}}, false},
		{"group names are exact", Access{Groups: []string{"sales"}}, false},
		{"listed user", Access{Users: []string{"ALICE"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.access.allows(alice, "Group")
			if (err == nil) != tc.ok {
				t.Errorf("allows = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// The rules that read claims: tenant, Google hosted domain, email domain and whether the
// provider verified the email. Each refusal names its rule.
func TestAccessClaimRules(t *testing.T) {
	const tid = "72f988bf-0000-4000-8000-0000000000f1"
	byEmail := &Mapping{UserDirectory: "D", UserIDClaim: "email"}
	byEmailPointer := &Mapping{UserDirectory: "D", UserIDClaim: "/email"}
	bySub := &Mapping{UserDirectory: "D"}
	for _, tc := range []struct {
		name   string
		access Access
		m      *Mapping
		claims string
		rule   string // "" = allowed
	}{
		{"tenant listed", Access{Tenants: []string{strings.ToUpper(tid)}}, bySub,
			`{"sub":"s","tid":"` + tid + `"}`, ""},
		{"tenant not listed", Access{Tenants: []string{tid}}, bySub,
			`{"sub":"s","tid":"00000000-0000-4000-8000-000000000000"}`, "access.tenants"},
		{"no tenant", Access{Tenants: []string{tid}}, bySub, `{"sub":"s"}`, "access.tenants"},
		{"C08 hosted domain", Access{HostedDomains: []string{"example.com"}}, bySub,
			`{"sub":"s","hd":"Example.COM"}`, ""},
		{"C08 email domain is no hosted domain", Access{HostedDomains: []string{"example.com"}},
			bySub, `{"sub":"s","email":"m@example.com","email_verified":true}`,
			"access.hosted_domains"},
		{"email domain, verified", Access{EmailDomains: []string{"@Example.com"}}, bySub,
			`{"sub":"s","email":"a@EXAMPLE.com","email_verified":true}`, ""},
		{"email domain, unverified", Access{EmailDomains: []string{"example.com"}}, bySub,
			`{"sub":"s","email":"a@example.com"}`, "email_verified"},
		{"email subdomain is another domain", Access{EmailDomains: []string{"example.com"}},
			bySub, `{"sub":"s","email":"a@evil.example.com","email_verified":true}`,
			"access.email_domains"},
		{"email domain at the end only", Access{EmailDomains: []string{"example.com"}}, bySub,
			`{"sub":"s","email":"a@example.com@evil.example","email_verified":true}`,
			"access.email_domains"},
		{"C08 email as the user id needs it verified", Access{}, byEmail,
			`{"sub":"s","email":"a@example.com","email_verified":false}`, "email_verified"},
		{"email by JSON pointer as the user id needs it verified too", Access{}, byEmailPointer,
			`{"sub":"s","email":"a@example.com","email_verified":false}`, "email_verified"},
		{"the string true", Access{}, byEmail,
			`{"sub":"s","email":"a@example.com","email_verified":"true"}`, ""},
		{"the number 1 is not true", Access{}, byEmail,
			`{"sub":"s","email":"a@example.com","email_verified":1}`, "email_verified"},
		{"yes is not true", Access{}, byEmail,
			`{"sub":"s","email":"a@example.com","email_verified":"yes"}`, "email_verified"},
		{"absent is not true", Access{}, byEmail, `{"sub":"s","email":"a@example.com"}`,
			"email_verified"},
		{"the insecure switch", Access{InsecureUnverifiedEmail: true}, byEmail,
			`{"sub":"s","email":"a@example.com"}`, ""},
		{"email not the identity", Access{}, bySub, `{"sub":"s","email":"a@example.com"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.access
			a.AnyAuthenticatedUser = true
			p := &problems{}
			a.check(p, "access")
			if err := p.err(); err != nil {
				t.Fatal(err)
			}
			cs, err := newClaimSet(Claims{IDToken: claimsOf(t, tc.claims)})
			if err == nil {
				err = a.checkClaims(cs, tc.m)
			}
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefusal(t, err, "", tc.rule)
		})
	}
}

// The verification must come from the source that sent the email: a verified email in
// userinfo does not vouch for another, unverified one in the ID token.
func TestEmailVerifiedFromTheEmailsSource(t *testing.T) {
	cs, err := newClaimSet(Claims{
		IDToken:  claimsOf(t, `{"sub":"s","email":"mallory@example.com"}`),
		Userinfo: claimsOf(t, `{"sub":"s","email":"m@example.com","email_verified":true}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	a := &Access{AnyAuthenticatedUser: true}
	err = a.checkClaims(cs, &Mapping{UserDirectory: "D", UserIDClaim: "email"})
	wantRefusal(t, err, "has not verified your email", "email_verified")
}

func TestAccessConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Access
		want string
	}{
		{"nobody", Access{HostedDomains: []string{"example.com"}}, "say who may log in"},
		{"everyone and a list", Access{AnyAuthenticatedUser: true, Users: []string{"a"}},
			"lets everyone in"},
		{"email domain with a user", Access{AnyAuthenticatedUser: true,
			EmailDomains: []string{"a@example.com"}}, "access.email_domains[0]"},
		{"wildcard domain", Access{AnyAuthenticatedUser: true,
			HostedDomains: []string{"*.example.com"}}, "access.hosted_domains[0]"},
		{"tenant name", Access{AnyAuthenticatedUser: true, Tenants: []string{"contoso"}},
			`access.tenants[0]: "contoso" is not a tenant id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &problems{}
			tc.a.check(p, "access")
			if err := p.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
