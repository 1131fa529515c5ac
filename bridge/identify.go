package bridge

import (
	"context"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// identify turns a verified login into the Qlik identity of virtual proxy p: it adds
// userinfo when configured or when a mapped claim is missing, maps the claims and applies
// the access rules. A refusal is a *refusal; a userinfo failure wraps oidc.ErrUserinfo.
func (s *Server) identify(ctx context.Context, p *proxy, login *oidc.Login) (qlik.Identity, error) {
	claims := login.Claims
	mode := s.cfg.OIDC.Userinfo
	if s.rp.HasUserinfo() && (mode == UserinfoAlways ||
		mode == UserinfoAuto && needsUserinfo(p.mapping, claims)) {
		ui, err := s.rp.Userinfo(ctx, login)
		if err != nil {
			return qlik.Identity{}, err
		}
		claims = oidc.MergeClaims(claims, ui)
	}
	id, err := mapIdentity(p.mapping, claims)
	if err != nil {
		return id, err
	}
	return id, p.access.allows(id, p.mapping.GroupAttribute)
}
