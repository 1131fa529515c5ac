package bridge

import (
	"context"
	"fmt"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// MapResult is what one login's claims become for a virtual proxy. The zero value is an
// empty identity.
type MapResult struct {
	// Proxy is the virtual proxy's prefix.
	Proxy string
	// Identity is the identity exactly as it is sent to the QPS; empty when refused.
	Identity qlik.Identity
	// Sources says where each part of Identity came from.
	Sources Sources
	// Notes are what the log should know: a claim path that found nothing, values that
	// a transform or the attribute budget dropped.
	Notes []string
}

// Sources names the origin of each part of an identity: a claim source and claim, such
// as `id_token "groups"` or `userinfo "/resource_access/qlik.bridge/roles"`, or a
// setting, such as "config user_directory". The zero value names none.
type Sources struct {
	UserDirectory string `json:"UserDirectory"`
	UserID        string `json:"UserId"`
	// Attributes has one entry per attribute, in order.
	Attributes []string `json:"Attributes"`
}

// MapClaims decides what the claims of a login become for the virtual proxy with the
// given prefix, as a real login does (it is the same code), without any network call:
// userinfo and access token claims are whatever in holds. A login the mapping or the
// access rules refuse returns a *Refusal, with the notes gathered so far in the result.
func MapClaims(cfg *Config, prefix string, in Claims) (*MapResult, error) {
	for i := range cfg.Qlik.VirtualProxies {
		vp := &cfg.Qlik.VirtualProxies[i]
		if vp.Prefix != prefix {
			continue
		}
		m, a := vp.Mapping, vp.Access
		if m == nil {
			m = &cfg.Mapping
		}
		if a == nil {
			a = &cfg.Access
		}
		res, err := decide(m, a, in)
		res.Proxy = prefix
		return res, err
	}
	return nil, fmt.Errorf("bridge: no virtual proxy has the prefix %q", prefix)
}

// SourceNotes says where the claims given to MapClaims differ from what a login of virtual
// proxy prefix would read: a login fetches userinfo only as oidc.userinfo says, and reads
// the access token only with oidc.access_token_claims.
func SourceNotes(cfg *Config, prefix string, in Claims) (notes []string) {
	m := &cfg.Mapping
	for _, vp := range cfg.Qlik.VirtualProxies {
		if vp.Prefix == prefix && vp.Mapping != nil {
			m = vp.Mapping
		}
	}
	o := &cfg.OIDC
	wanted := o.Userinfo == UserinfoAlways ||
		o.Userinfo == UserinfoAuto && needsUserinfo(m, in.IDToken)
	switch {
	case in.Userinfo != nil && !wanted:
		notes = append(notes, "with oidc.userinfo: "+o.Userinfo+" a login would not fetch "+
			"userinfo for these ID token claims; its claims are used here all the same")
	case in.Userinfo == nil && wanted:
		notes = append(notes, "a login would fetch userinfo here (oidc.userinfo: "+
			o.Userinfo+"); give its claims to see their effect")
	}
	if in.AccessToken != nil && !o.AccessTokenClaims {
		notes = append(notes, "oidc.access_token_claims is off: a login would not read the "+
			"access token's claims; they are used here all the same")
	}
	return notes
}

// identify turns a verified login into the Qlik identity of virtual proxy p: it adds
// userinfo when configured or when a mapped claim is missing, and the access token's
// claims when configured, then decides as MapClaims does. A refusal is a *Refusal; a
// userinfo failure wraps oidc.ErrUserinfo, an access token that fails its checks
// oidc.ErrVerify.
func (s *Server) identify(ctx context.Context, p *proxy, login *oidc.Login) (qlik.Identity, error) {
	in := Claims{IDToken: login.Claims}
	mode := s.cfg.OIDC.Userinfo
	if s.rp.HasUserinfo() && (mode == UserinfoAlways ||
		mode == UserinfoAuto && needsUserinfo(p.mapping, login.Claims)) {
		ui, err := s.rp.Userinfo(ctx, login)
		if err != nil {
			return qlik.Identity{}, err
		}
		in.Userinfo = ui
	}
	if s.cfg.OIDC.AccessTokenClaims {
		at, err := s.rp.AccessTokenClaims(ctx, login)
		if err != nil {
			return qlik.Identity{}, err
		}
		in.AccessToken = at
	}
	res, err := decide(p.mapping, p.access, in)
	if len(res.Notes) > 0 {
		s.log.Info("identity mapping notes", "proxy", p.cfg.Prefix, "subject", login.Subject,
			"notes", res.Notes)
	}
	return res.Identity, err
}

// decide maps the claims with m, applies the access rules of a and keeps the attributes
// within the budget. The result is never nil; on a refusal it holds only the notes.
func decide(m *Mapping, a *Access, in Claims) (*MapResult, error) {
	res := &MapResult{}
	fail := func(err error) (*MapResult, error) {
		return &MapResult{Notes: res.Notes}, err
	}
	cs, err := newClaimSet(in)
	if err != nil {
		return fail(err)
	}
	if err := a.checkClaims(cs, m); err != nil {
		return fail(err)
	}
	attrs, err := m.identity(cs, res)
	if err != nil {
		return fail(err)
	}
	res.setAttributes(attrs)
	if err := a.allows(res.Identity, m.GroupAttribute); err != nil {
		return fail(err)
	}
	if attrs, err = m.fitBudget(attrs, a.Groups, res); err != nil {
		return fail(err)
	}
	res.setAttributes(attrs)
	return res, nil
}

func (res *MapResult) setAttributes(attrs []sentAttribute) {
	res.Identity.Attributes = make([]qlik.Attribute, len(attrs))
	res.Sources.Attributes = make([]string, len(attrs))
	for i, a := range attrs {
		res.Identity.Attributes[i] = a.Attribute
		res.Sources.Attributes[i] = a.source
	}
}
