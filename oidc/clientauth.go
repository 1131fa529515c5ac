package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// AuthMethodPrivateKeyJWT authenticates the client with a JWT signed by its own key
// (RFC 7523, OpenID Connect Core 9); no secret is sent. Config.ClientKey holds the key.
const AuthMethodPrivateKeyJWT = "private_key_jwt"

// clientAssertionType is the client_assertion_type of RFC 7523, 2.2.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is how long a client assertion is valid: long enough for a provider
// whose clock runs a little ahead, short enough to be of no use when captured.
const assertionLifetime = 5 * time.Minute

// ClientKey is the private key of private_key_jwt client authentication, with the
// certificate registered at the provider when there is one. Build it with ParseClientKey;
// the zero value signs nothing.
type ClientKey struct {
	signer crypto.Signer
	alg    jose.SignatureAlgorithm
	kid    string
	x5t    string // base64url SHA-1 thumbprint of the certificate, as Entra ID expects
	x5t256 string // base64url SHA-256 thumbprint of the certificate
}

// ParseClientKey reads a PEM private key (PKCS #8, PKCS #1 RSA or SEC 1 EC), optionally
// followed by the certificate registered at the provider. RSA keys (2048 bits or more)
// sign with RS256, P-256 keys with ES256, P-384 keys with ES384. The assertion's header
// carries keyID as kid when it is not empty, or else, with no certificate, the key's JWK
// thumbprint (RFC 7638); with a certificate it carries x5t and x5t#S256, which Microsoft
// Entra ID uses to find the key.
func ParseClientKey(pemData []byte, keyID string) (*ClientKey, error) {
	k := &ClientKey{kid: keyID}
	var certs []*x509.Certificate
	for rest := pemData; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("oidc: client key: certificate: %w", err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if k.signer != nil {
				return nil, errors.New("oidc: client key: more than one private key")
			}
			var err error
			if k.signer, err = parsePrivateKey(block); err != nil {
				return nil, err
			}
		}
	}
	if k.signer == nil {
		return nil, errors.New("oidc: client key: no PEM private key found " +
			"(PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
	}
	if err := k.pickAlg(); err != nil {
		return nil, err
	}
	return k, k.identify(certs)
}

func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: client key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("oidc: client key: a %T cannot sign", key)
	}
	return signer, nil
}

// pickAlg chooses the signing algorithm from the key.
func (k *ClientKey) pickAlg() error {
	switch pub := k.signer.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return fmt.Errorf("oidc: client key: an RSA key needs at least 2048 bits, "+
				"this one has %d", pub.N.BitLen())
		}
		k.alg = jose.RS256
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			k.alg = jose.ES256
		case elliptic.P384():
			k.alg = jose.ES384
		default:
			return errors.New("oidc: client key: an EC key must be on P-256 or P-384")
		}
	default:
		return fmt.Errorf("oidc: client key: a %T key is not supported (use RSA or EC)", pub)
	}
	return nil
}

// identify sets the header values that let the provider find the key: the thumbprints of
// the certificate that belongs to the key, and a kid.
func (k *ClientKey) identify(certs []*x509.Certificate) error {
	pub := jose.JSONWebKey{Key: k.signer.Public()}
	for _, c := range certs {
		if !samePublicKey(c.PublicKey, pub.Key) {
			continue
		}
		s1, s256 := sha1.Sum(c.Raw), sha256.Sum256(c.Raw)
		k.x5t = base64.RawURLEncoding.EncodeToString(s1[:])
		k.x5t256 = base64.RawURLEncoding.EncodeToString(s256[:])
		return nil
	}
	if len(certs) > 0 {
		return errors.New("oidc: client key: the certificate in the file is not the " +
			"private key's")
	}
	if k.kid == "" {
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return fmt.Errorf("oidc: client key: %w", err)
		}
		k.kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// KeyID returns the kid the assertions carry, "" when they name the key by certificate
// thumbprint only.
func (k *ClientKey) KeyID() string { return k.kid }

// assertion returns a fresh client assertion for the token endpoint tokenURL: iss and sub
// the client id, aud the token endpoint, a random jti, issued now.
func (k *ClientKey) assertion(clientID, tokenURL string, now time.Time) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	if k.x5t != "" {
		opts = opts.WithHeader("x5t", k.x5t).WithHeader("x5t#S256", k.x5t256)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.signer}, opts)
	if err != nil {
		return "", fmt.Errorf("oidc: client assertion: %w", err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("oidc: client assertion: %w", err)
	}
	payload, err := json.Marshal(map[string]any{
		"iss": clientID,
		"sub": clientID,
		"aud": tokenURL,
		"jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(assertionLifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("oidc: client assertion: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidc: client assertion: %w", err)
	}
	return jws.CompactSerialize()
}

// clientAuthOptions returns the token request parameters that authenticate the client
// with private_key_jwt; none for the other methods, which x/oauth2 handles.
func (rp *RelyingParty) clientAuthOptions() ([]oauth2.AuthCodeOption, error) {
	if rp.authMethod != AuthMethodPrivateKeyJWT {
		return nil, nil
	}
	a, err := rp.cfg.ClientKey.assertion(rp.cfg.ClientID, rp.oauth.Endpoint.TokenURL,
		rp.cfg.Now())
	if err != nil {
		return nil, newError(ErrExchange, "client_assertion", msgExchange, err.Error(), err)
	}
	return []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("client_assertion_type", clientAssertionType),
		oauth2.SetAuthURLParam("client_assertion", a),
	}, nil
}
