package bridge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// errUnsealed means a sealed value could not be opened with any key: it was altered, made
// by another bridge, or sealed for another purpose.
var errUnsealed = errors.New("bridge: sealed value does not open")

// sealer encrypts and authenticates small values with AES-256-GCM. The first key seals;
// every key opens, so keys can be rotated without breaking logins in flight.
type sealer struct {
	aeads []cipher.AEAD
}

func newSealer(keys [][]byte) (*sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("bridge: no cookie key")
	}
	s := &sealer{}
	for i, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("bridge: cookie key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// seal returns base64url(nonce | ciphertext). purpose is authenticated but not stored, so a
// value sealed for one purpose never opens as another.
func (s *sealer) seal(purpose string, plain []byte) (string, error) {
	aead := s.aeads[0]
	ns := aead.NonceSize()
	buf := make([]byte, ns, ns+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, buf); err != nil {
		return "", fmt.Errorf("bridge: random: %w", err)
	}
	buf = aead.Seal(buf, buf[:ns], plain, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// open reverses seal.
func (s *sealer) open(purpose, sealed string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, errUnsealed
	}
	for _, aead := range s.aeads {
		ns := aead.NonceSize()
		if len(raw) < ns+aead.Overhead() {
			return nil, errUnsealed
		}
		plain, err := aead.Open(nil, raw[:ns], raw[ns:], []byte(purpose))
		if err == nil {
			return plain, nil
		}
	}
	return nil, errUnsealed
}
