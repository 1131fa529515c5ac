package oidc

import "errors"

// ParseClaims decodes a JSON object of claims the way verified tokens and userinfo are
// decoded: numbers as json.Number, objects as map[string]any, arrays as []any, nothing
// after the object. It checks no signature; it is for claims saved from a login.
func ParseClaims(b []byte) (map[string]any, error) {
	claims, err := decodeObject(b)
	if err != nil {
		return nil, errors.New("oidc: " + err.Error())
	}
	return claims, nil
}
