package oidc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseClaims(t *testing.T) {
	c, err := ParseClaims([]byte(`{"sub":"a","exp":1700000000123456789}`))
	if err != nil || c["exp"] != json.Number("1700000000123456789") {
		t.Fatalf("ParseClaims = %v, %v", c, err)
	}
	for _, bad := range []string{`null`, `[]`, `{"a":1} {}`, `{`} {
		if _, err := ParseClaims([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "oidc: ") {
			t.Errorf("ParseClaims(%s) = %v", bad, err)
		}
	}
}
