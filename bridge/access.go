package bridge

import (
	"strings"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// Access says who may log in. The zero value lets nobody in: the configuration has to say
// it, because each new Qlik user may take a licence.
type Access struct {
	// AnyAuthenticatedUser lets in every user the identity provider authenticates.
	AnyAuthenticatedUser bool `yaml:"any_authenticated_user"`
	// Groups lets in members of any of these groups (after mapping).
	Groups []string `yaml:"groups"`
	// Users lets in these UserIds (after mapping).
	Users []string `yaml:"users"`
}

func (a *Access) check(p *problems, at string) {
	if !a.AnyAuthenticatedUser && len(a.Groups) == 0 && len(a.Users) == 0 {
		p.add(at, "say who may log in: any_authenticated_user: true, or a list of groups or "+
			"users (each new Qlik user may take a licence, so there is no default)")
	}
	if a.AnyAuthenticatedUser && (len(a.Groups) > 0 || len(a.Users) > 0) {
		p.add(at, "any_authenticated_user: true lets everyone in; remove it to restrict to the "+
			"listed groups or users")
	}
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
		Reason: "you are signed in, but not in a group that may use this Qlik site; " +
			"ask your Qlik administrator for access",
		Rule: "access",
	}
}
