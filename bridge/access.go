package bridge

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// Access says who may log in. The zero value lets nobody in: the configuration has to say
// it, because each new Qlik user may take a licence.
//
// AnyAuthenticatedUser, Groups and Users say who; the other rules, when set, narrow that
// down, and a user must pass each of them.
type Access struct {
	// AnyAuthenticatedUser lets in every user the identity provider authenticates.
	AnyAuthenticatedUser bool `yaml:"any_authenticated_user"`
	// Groups lets in members of any of these groups (after mapping), compared exactly.
	Groups []string `yaml:"groups"`
	// Users lets in these UserIds (after mapping), compared without case.
	Users []string `yaml:"users"`

	// EmailDomains, when set, lets in only users whose verified email address is in one
	// of these domains (exactly; a subdomain is another domain).
	EmailDomains []string `yaml:"email_domains"`
	// HostedDomains, when set, lets in only Google accounts whose "hd" claim is one of
	// these domains. The email's domain never counts: any Google account can have an
	// address at any domain.
	HostedDomains []string `yaml:"hosted_domains"`
	// Tenants, when set, lets in only Microsoft Entra ID users whose "tid" claim is one
	// of these tenant ids.
	Tenants []string `yaml:"tenants"`
	// InsecureUnverifiedEmail trusts an email address that the identity provider does not
	// mark verified ("email_verified": true or "true") where it decides who the user is:
	// as the UserId, or for EmailDomains. Anyone who can set an unverified address at
	// the provider could then log in as another user.
	InsecureUnverifiedEmail bool `yaml:"insecure_unverified_email"`
}

var tenantID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (a *Access) check(p *problems, at string) {
	if !a.AnyAuthenticatedUser && len(a.Groups) == 0 && len(a.Users) == 0 {
		p.add(at, "say who may log in: any_authenticated_user: true, or a list of groups or "+
			"users (each new Qlik user may take a licence, so there is no default)")
	}
	if a.AnyAuthenticatedUser && (len(a.Groups) > 0 || len(a.Users) > 0) {
		p.add(at, "any_authenticated_user: true lets everyone in; remove it to restrict to the "+
			"listed groups or users")
	}
	for i, d := range a.EmailDomains {
		a.EmailDomains[i] = strings.ToLower(strings.TrimPrefix(d, "@"))
		checkDomain(p, fmt.Sprintf("%s.email_domains[%d]", at, i), a.EmailDomains[i])
	}
	for i, d := range a.HostedDomains {
		a.HostedDomains[i] = strings.ToLower(d)
		checkDomain(p, fmt.Sprintf("%s.hosted_domains[%d]", at, i), a.HostedDomains[i])
	}
	for i, t := range a.Tenants {
		a.Tenants[i] = strings.ToLower(t)
		if !tenantID.MatchString(a.Tenants[i]) {
			p.add(fmt.Sprintf("%s.tenants[%d]", at, i), fmt.Sprintf("%q is not a tenant id "+
				"(a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47)", t))
		}
	}
}

func checkDomain(p *problems, at, d string) {
	if d == "" || strings.ContainsAny(d, "@/ *") || !strings.Contains(d, ".") {
		p.add(at, fmt.Sprintf("%q is not a domain name such as example.com", d))
	}
}

// checkClaims applies the rules that read claims rather than the mapped identity: the
// tenant, the Google hosted domain, and the email address with its verification.
func (a *Access) checkClaims(cs claimSet, m *Mapping) error {
	if len(a.Tenants) > 0 {
		tid, _, _ := cs.top("tid")
		s, _ := tid.(string)
		if !slices.Contains(a.Tenants, strings.ToLower(s)) {
			return &refusal{Reason: "your organisation's Microsoft Entra ID tenant may not " +
				"use this Qlik site", Rule: "access.tenants"}
		}
	}
	if len(a.HostedDomains) > 0 {
		hd, _, _ := cs.top("hd")
		s, _ := hd.(string)
		if !slices.Contains(a.HostedDomains, strings.ToLower(s)) {
			return &refusal{Reason: "your Google account does not belong to an organisation " +
				"that may use this Qlik site", Rule: "access.hosted_domains (hd)"}
		}
	}
	emailIsIdentity := isEmailClaim(m.UserIDClaim) || isEmailClaim(m.UserDirectoryClaim)
	if !emailIsIdentity && len(a.EmailDomains) == 0 {
		return nil
	}
	email := cs.lookup("email")
	if !a.InsecureUnverifiedEmail && !emailVerified(cs, email.source) {
		return &refusal{Reason: "your identity provider has not verified your email " +
			"address", Rule: "access (email_verified is not true)"}
	}
	if len(a.EmailDomains) > 0 {
		s, _ := email.value.(string)
		at := strings.LastIndexByte(s, '@')
		if at < 0 || !slices.Contains(a.EmailDomains, strings.ToLower(s[at+1:])) {
			return &refusal{Reason: "your email address is not in a domain that may use " +
				"this Qlik site", Rule: "access.email_domains"}
		}
	}
	return nil
}

// emailVerified reports whether the claim source that sent the email marks it verified:
// true, or the string "true" that some providers send. Anything else, 1 and "yes"
// included, is not verified.
func emailVerified(cs claimSet, source string) bool {
	for _, l := range cs {
		if l.source == source {
			v := l.claims["email_verified"]
			return v == true || v == "true"
		}
	}
	return false
}

// allows reports whether a checks out id, or the refusal that says why not.
func (a *Access) allows(id qlik.Identity, groupKey string) error {
	if a.AnyAuthenticatedUser {
		return nil
	}
	for _, u := range a.Users {
		if strings.EqualFold(u, id.UserID) {
			return nil
		}
	}
	for _, attr := range id.Attributes {
		if attr.Key != groupKey {
			continue
		}
		for _, g := range a.Groups {
			if g == attr.Value {
				return nil
			}
		}
	}
	return &refusal{
		Reason: "you are not in a group that may use this Qlik site; ask your Qlik " +
			"administrator for access",
		Rule: "access",
	}
}

// isEmailClaim reports whether name reads the email claim, by its name or as the JSON
// pointer "/email": either way the rule on email_verified applies.
func isEmailClaim(name string) bool {
	if name == "email" {
		return true
	}
	ptr, err := parsePointer(name)
	return strings.HasPrefix(name, "/") && err == nil && len(ptr) == 1 && ptr[0] == "email"
}
