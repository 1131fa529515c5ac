package oidc_test

import (
	"fmt"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
)

func ExampleMergeClaims() {
	idToken := map[string]any{"sub": "00uFAKEalice", "email": "alice@example.com"}
	userinfo := map[string]any{
		"sub":    "00uFAKEalice",
		"email":  "someone-else@example.com",
		"groups": []any{"Everyone", "Qlik-Analysts"},
	}
	merged := oidc.MergeClaims(idToken, userinfo)
	fmt.Println(merged["email"], merged["groups"])
	// Output: alice@example.com [Everyone Qlik-Analysts]
}
