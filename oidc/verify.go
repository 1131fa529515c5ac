package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// hs256Hint tells an operator how to fix a provider that signs ID tokens with HS256.
const hs256Hint = "configure the client at the IdP to sign ID tokens with RS256 " +
	"(or list HS256 in the signing algorithms to check them with the client secret)"

// keySet returns the provider's JWKS, fetched when first needed and on an unknown kid.
func keySet(s *settings, jwksURL string) gooidc.KeySet {
	return gooidc.NewRemoteKeySet(gooidc.ClientContext(context.Background(), s.HTTPClient),
		jwksURL)
}

// newVerifier builds go-oidc's verifier over the provider's JWKS, and over the client
// secret for HS256 when that is listed. Expiry is checked by checkTimes, with Leeway.
//
// In the multi-tenant mode it refuses every token unless skipIssuer is set, and a caller
// that sets it must call settings.checkTenant (see idTokenVerifier).
func newVerifier(s *settings, jwks gooidc.KeySet, skipIssuer bool) *gooidc.IDTokenVerifier {
	keys := jwks
	if s.hs256 {
		algs := make([]jose.SignatureAlgorithm, len(s.SigningAlgs))
		for i, alg := range s.SigningAlgs {
			algs[i] = jose.SignatureAlgorithm(alg)
		}
		keys = &secretKeySet{jwks: keys, secret: []byte(s.ClientSecret), algs: algs}
	}
	if s.tenantIssuer != "" && !skipIssuer {
		keys = refuseAll{}
	}
	return gooidc.NewVerifier(s.Issuer, keys, &gooidc.Config{
		ClientID:             s.ClientID,
		SupportedSigningAlgs: s.SigningAlgs,
		SkipExpiryCheck:      true,
		SkipIssuerCheck:      skipIssuer,
		Now:                  s.Now,
	})
}

// secretKeySet checks HS256 tokens with the client secret and every other token with the
// provider's JWKS. An HS256 token never reaches the JWKS, so a public key (or a symmetric
// key a provider wrongly publishes) can never serve as its HMAC key.
type secretKeySet struct {
	jwks   gooidc.KeySet
	secret []byte
	algs   []jose.SignatureAlgorithm
}

// VerifySignature returns the payload of jwt once its signature checks out.
func (k *secretKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, k.algs)
	if err != nil {
		return nil, fmt.Errorf("oidc: malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: id token must carry exactly one signature")
	}
	if jws.Signatures[0].Header.Algorithm != algHS256 {
		return k.jwks.VerifySignature(ctx, jwt)
	}
	return jws.Verify(k.secret)
}

// verify checks the ID token of the code flow, nonce included, and returns its claims and
// expiry.
func (rp *RelyingParty) verify(ctx context.Context, raw, nonce string) (
	map[string]any, time.Time, error) {
	claims, expiry, err := rp.verifyIDToken(ctx, raw)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := checkNonce(claims, nonce); err != nil {
		return nil, time.Time{}, err
	}
	return claims, expiry, nil
}

// verifyIDToken checks an ID token in every way but the nonce, which the caller checks
// where its flow has one (the device grant has none). go-oidc checks the signature, the
// algorithm, the issuer and that ClientID is among the audiences; the rest is checked here,
// on claims decoded once.
func (rp *RelyingParty) verifyIDToken(ctx context.Context, raw string) (
	map[string]any, time.Time, error) {
	token, err := rp.idTokenVerifier().Verify(ctx, raw)
	if err != nil {
		return nil, time.Time{}, rp.tokenError(raw, err)
	}
	claims, err := decodeClaims(token)
	if err != nil {
		return nil, time.Time{}, verifyError("claims", err.Error(), err)
	}
	if err := rp.cfg.checkTenant(claims, "ID token"); err != nil {
		return nil, time.Time{}, err
	}
	if err := rp.checkAudience(claims); err != nil {
		return nil, time.Time{}, err
	}
	expiry, err := rp.checkTimes(claims, "ID token")
	if err != nil {
		return nil, time.Time{}, err
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return nil, time.Time{}, verifyError("sub_missing", "the ID token has no sub", nil)
	}
	return claims, expiry, nil
}

// tokenError explains a failure reported by go-oidc's verifier.
func (rp *RelyingParty) tokenError(raw string, err error) error {
	if alg := headerAlg(raw); alg != "" && !slices.Contains(rp.cfg.SigningAlgs, alg) {
		detail := fmt.Sprintf("the ID token is signed with %s, which is not allowed (allowed: %s)",
			quote(alg), strings.Join(rp.cfg.SigningAlgs, ", "))
		switch alg {
		case "none":
			detail += "; unsigned ID tokens are always refused"
		case algHS256:
			detail += "; " + hs256Hint
		}
		return verifyError("alg_not_allowed", detail, err)
	}
	// go-oidc's errors are not typed; the reason label is read from its message, and the
	// message itself is kept as the detail.
	msg := err.Error()
	reason := "invalid"
	switch {
	case strings.Contains(msg, "field idToken.nonce"):
		// go-oidc decodes the nonce into a string before the nonce check can run.
		return nonceError("nonce_type", "the ID token's nonce is not a string")
	case strings.Contains(msg, "unmarshal claims"):
		reason = "claims"
	case strings.Contains(msg, "different provider"):
		reason = "issuer_mismatch"
	case strings.Contains(msg, "expected audience"):
		reason = "audience"
	case strings.Contains(msg, "verify signature"):
		reason = "signature"
	case strings.Contains(msg, "malformed"):
		reason = "malformed"
	}
	return verifyError(reason, bounded(msg), err)
}

// headerAlg returns the alg named in a compact JWT's header, or "" if there is none. It
// is only used to explain a refusal, never to decide one.
func headerAlg(raw string) string {
	header, _, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}

// checkAudience allows only ClientID and ExtraAudiences in aud, and only ClientID in azp.
func (rp *RelyingParty) checkAudience(claims map[string]any) error {
	var auds []any
	switch aud := claims["aud"].(type) {
	case string:
		auds = []any{aud}
	case []any:
		auds = aud
	default:
		return verifyError("audience", "the ID token's aud is neither a string nor a list", nil)
	}
	for _, a := range auds {
		s, ok := a.(string)
		if !ok || !rp.cfg.audiences[s] {
			return verifyError("audience", fmt.Sprintf("the ID token is also meant for %s, "+
				"which is not the client id nor a listed extra audience", quote(fmt.Sprint(a))), nil)
		}
	}
	azp, present := claims["azp"]
	if !present {
		return nil
	}
	if s, ok := azp.(string); !ok || s != rp.cfg.ClientID {
		return verifyError("azp_mismatch", fmt.Sprintf("the ID token's azp %s is not the "+
			"client id %s", quote(fmt.Sprint(azp)), quote(rp.cfg.ClientID)), nil)
	}
	return nil
}

// checkTimes requires exp and refuses a token expired beyond Leeway, an iat in the future
// beyond Leeway and an nbf more than five minutes ahead (go-oidc's allowance). what names
// the token in errors, e.g. "ID token".
func (rp *RelyingParty) checkTimes(claims map[string]any, what string) (time.Time, error) {
	now, leeway := rp.cfg.Now(), rp.cfg.Leeway
	exp, present, err := numericDate(claims, "exp")
	if err != nil {
		return time.Time{}, verifyError("exp_invalid", err.Error(), nil)
	}
	if !present {
		return time.Time{}, verifyError("exp_missing", "the "+what+" has no exp", nil)
	}
	if now.After(exp.Add(leeway)) {
		return time.Time{}, verifyError("expired", fmt.Sprintf("the %s expired at %s, "+
			"%s ago, beyond the leeway of %s", what, exp.UTC().Format(time.RFC3339), now.Sub(exp),
			leeway), nil)
	}

	iat, present, err := numericDate(claims, "iat")
	if err != nil {
		return time.Time{}, verifyError("iat_invalid", err.Error(), nil)
	}
	if present && iat.After(now.Add(leeway)) {
		return time.Time{}, verifyError("iat_future", fmt.Sprintf("the %s was issued "+
			"%s in the future, beyond the leeway of %s; check the clocks", what, iat.Sub(now),
			leeway), nil)
	}

	nbf, present, err := numericDate(claims, "nbf")
	if err != nil {
		return time.Time{}, verifyError("nbf_invalid", err.Error(), nil)
	}
	if present && nbf.After(now.Add(nbfLeeway)) {
		return time.Time{}, verifyError("nbf_future", fmt.Sprintf("the %s is not valid "+
			"for another %s; check the clocks", what, nbf.Sub(now)), nil)
	}
	return exp, nil
}

// numericDate reads a JWT NumericDate claim; present is false when the claim is absent.
func numericDate(claims map[string]any, name string) (t time.Time, present bool, err error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, true, fmt.Errorf("the ID token's %s is not a number", name)
	}
	if secs, err := n.Int64(); err == nil {
		return time.Unix(secs, 0), true, nil
	}
	f, err := n.Float64()
	if err != nil || math.Abs(f) > 1<<53 {
		return time.Time{}, true, fmt.Errorf("the ID token's %s is out of range", name)
	}
	secs, frac := math.Modf(f)
	return time.Unix(int64(secs), int64(frac*1e9)), true, nil
}

// checkNonce requires the ID token's nonce to be the string sent with the request.
func checkNonce(claims map[string]any, want string) error {
	v, present := claims["nonce"]
	if !present {
		return nonceError("nonce_missing", "the ID token has no nonce")
	}
	if v == nil {
		return nonceError("nonce_null", "the ID token's nonce is null")
	}
	got, ok := v.(string)
	if !ok {
		return nonceError("nonce_type", fmt.Sprintf("the ID token's nonce is a %T, "+
			"not a string", v))
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return nonceError("nonce_mismatch", "the ID token's nonce is not the one sent "+
			"with this login (a replayed or mixed-up response)")
	}
	return nil
}
