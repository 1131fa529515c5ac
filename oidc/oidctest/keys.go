package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-jose/go-jose/v4"
)

const keysPath = "/keys"

// setKey takes key, or generates one when it is nil, and derives the key
// id from its RFC 7638 thumbprint.
func (p *Provider) setKey(key *rsa.PrivateKey) error {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return fmt.Errorf("oidctest: generate key: %w", err)
		}
	}
	if key.N.BitLen() < 2048 {
		return errors.New("oidctest: key must have at least 2048 bits")
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("oidctest: key thumbprint: %w", err)
	}
	p.key = key
	p.kid = base64.RawURLEncoding.EncodeToString(sum)
	return nil
}

// PublicKey returns the public half of the key that signs ID tokens.
func (p *Provider) PublicKey() crypto.PublicKey { return &p.key.PublicKey }

// KeyID returns the "kid" of the signing key, as published at the keys
// endpoint.
func (p *Provider) KeyID() string { return p.kid }

// Sign returns claims as a compact JWT signed with RS256 and the
// provider's key, with the key id in the header. It adds and checks
// nothing: the claims are signed as given.
func (p *Provider) Sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: sign: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.RS256,
		Key:       jose.JSONWebKey{Key: p.key, KeyID: p.kid},
	}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("oidctest: sign: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidctest: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// serveKeys publishes the signing key as a JSON Web Key Set.
func (p *Provider) serveKeys(w http.ResponseWriter, r *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       &p.key.PublicKey,
		KeyID:     p.kid,
		Algorithm: string(jose.RS256),
		Use:       "sig",
	}}}
	writeJSON(w, http.StatusOK, set)
}

// writeJSON sends v as a JSON response that no cache keeps.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(body)
}
