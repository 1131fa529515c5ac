package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// decodeClaims decodes a verified ID token's payload once, keeping numbers as json.Number.
func decodeClaims(token *gooidc.IDToken) (map[string]any, error) {
	var raw json.RawMessage
	if err := token.Claims(&raw); err != nil {
		return nil, err
	}
	return decodeObject(raw)
}

// decodeObject decodes one JSON object with numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, errors.New("claims are not a JSON object: " + err.Error())
	}
	if m == nil {
		return nil, errors.New("claims are null, not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("claims are followed by extra data")
	}
	return m, nil
}

// MergeClaims returns a new map with the ID token's claims and the userinfo claims the ID
// token lacks. Userinfo never replaces or erases an ID-token claim, not even one that is
// null or empty. The inputs are not changed; nested values are shared, not copied.
// Nil inputs are treated as empty.
func MergeClaims(idToken, userinfo map[string]any) map[string]any {
	merged := make(map[string]any, len(idToken)+len(userinfo))
	for name, value := range idToken {
		merged[name] = value
	}
	for name, value := range userinfo {
		if _, taken := merged[name]; !taken {
			merged[name] = value
		}
	}
	return merged
}
