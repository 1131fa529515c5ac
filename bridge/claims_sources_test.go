package bridge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The oidc settings this package adds for claim sources and client authentication:
// private_key_jwt with its key file, access_token_claims and tenants.
func TestOIDCClientKeyConfig(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "client.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY",
		Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, oidc, want string // want: part of the error, "" = valid
	}{
		{"private_key_jwt without a secret", `auth_method: private_key_jwt, private_key_file: ` +
			keyFile + `, private_key_id: k1`, ""},
		{"private_key_jwt without a key file", `auth_method: private_key_jwt`,
			"oidc.private_key_file: required by private_key_jwt"},
		{"a key file that is no key", `auth_method: private_key_jwt, private_key_file: ` +
			filepath.Join(t.TempDir()), "oidc.private_key_file:"},
		{"a secret method without a secret", `auth_method: client_secret_post`,
			"oidc.client_secret: required"},
		{"an unknown method", `auth_method: tls_client_auth, client_secret: s`,
			"must be client_secret_basic, client_secret_post, private_key_jwt or empty"},
		{"access token claims and tenants", `client_secret: s, access_token_claims: true, ` +
			`tenants: [72f988bf-0000-4000-8000-0000000000f1]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(minimalConfig(t), "client_id: c, client_secret: s}",
				"client_id: c, "+tc.oidc+"}", 1)
			cfg, err := Parse([]byte(text))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o := cfg.OIDC; o.AuthMethod == "private_key_jwt" &&
				(o.clientKey == nil || o.clientKey.KeyID() != "k1") {
				t.Errorf("client key not read: %+v", o.clientKey)
			}
		})
	}
}
