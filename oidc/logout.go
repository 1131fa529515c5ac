package oidc

import (
	"context"
	"sync"
	"time"
)

// backchannelEvent is the member of a logout token's events claim that makes it one
// (OpenID Connect Back-Channel Logout 1.0).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// maxLogoutTokenAge bounds how old a logout token's iat may be.
const maxLogoutTokenAge = 10 * time.Minute

// LogoutToken is a verified back-channel logout request: the provider ended the session
// SID of user Subject, either of which may be empty but not both.
type LogoutToken struct {
	Subject string
	SID     string
}

// VerifyLogoutToken checks a back-channel logout token as OpenID Connect Back-Channel
// Logout 1.0 asks: signature, issuer and audience like an ID token, an iat that is neither
// in the future nor older than ten minutes, the logout event, no nonce, a sub or a sid, and
// a jti not seen before.
func (rp *RelyingParty) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	token, err := rp.idTokenVerifier().Verify(ctx, raw)
	if err != nil {
		return nil, rp.tokenError(raw, err)
	}
	claims, err := decodeClaims(token)
	if err != nil {
		return nil, verifyError("claims", err.Error(), err)
	}
	if err := rp.cfg.checkTenant(claims, "logout token"); err != nil {
		return nil, err
	}
	if err := rp.checkAudience(claims); err != nil {
		return nil, err
	}

	now := rp.cfg.Now()
	iat, present, err := numericDate(claims, "iat")
	switch {
	case err != nil || !present:
		return nil, verifyError("iat_missing", "the logout token has no valid iat", nil)
	case iat.After(now.Add(rp.cfg.Leeway)):
		return nil, verifyError("iat_future", "the logout token was issued in the future", nil)
	case now.Sub(iat) > maxLogoutTokenAge+rp.cfg.Leeway:
		return nil, verifyError("iat_old", "the logout token is older than ten minutes", nil)
	}
	if exp, present, err := numericDate(claims, "exp"); err != nil ||
		present && now.After(exp.Add(rp.cfg.Leeway)) {
		return nil, verifyError("expired", "the logout token has expired", nil)
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events[backchannelEvent].(map[string]any); !ok {
		return nil, verifyError("events", "the token carries no back-channel logout event", nil)
	}
	if _, ok := claims["nonce"]; ok {
		return nil, verifyError("nonce_present", "a logout token must not carry a nonce", nil)
	}
	lt := &LogoutToken{}
	lt.Subject, _ = claims["sub"].(string)
	lt.SID, _ = claims["sid"].(string)
	if lt.Subject == "" && lt.SID == "" {
		return nil, verifyError("no_subject", "the logout token names neither sub nor sid", nil)
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return nil, verifyError("jti_missing", "the logout token has no jti", nil)
	}
	if !rp.seen.first(jti, now, maxLogoutTokenAge+2*rp.cfg.Leeway) {
		return nil, verifyError("replayed", "this logout token was already used", nil)
	}
	return lt, nil
}

// jtiCache remembers token ids for as long as their tokens could be accepted.
type jtiCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // jti -> when it may be forgotten
}

// first records jti and reports whether it was new.
func (c *jtiCache) first(jti string, now time.Time, keep time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if len(c.seen) > 1024 {
		for k, until := range c.seen {
			if now.After(until) {
				delete(c.seen, k)
			}
		}
	}
	if until, ok := c.seen[jti]; ok && !now.After(until) {
		return false
	}
	c.seen[jti] = now.Add(keep)
	return true
}
