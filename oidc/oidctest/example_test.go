package oidctest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// A relying party signs alice in through the provider's login form. In a
// test, NewServer(t, cfg) does the same as StartServer and closes the
// server when the test ends.
func ExampleStartServer() {
	p, srv, err := oidctest.StartServer(oidctest.Config{
		Users: oidctest.DemoUsers(),
		Clients: []oidctest.Client{{
			ID: "bridge", Secret: "bridge-secret",
			RedirectURIs: []string{"https://bridge.example.com/callback"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// The relying party discovers the provider over the server's TLS.
	ctx := oidc.ClientContext(context.Background(), srv.Client())
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	conf := oauth2.Config{
		ClientID: "bridge", ClientSecret: "bridge-secret",
		Endpoint:    provider.Endpoint(),
		RedirectURL: "https://bridge.example.com/callback",
		Scopes:      []string{oidc.ScopeOpenID, "email"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oidc.Nonce("nonce-1"),
		oauth2.S256ChallengeOption(verifier))

	// Login fills in the form where a person would use a browser, and
	// returns the redirect to the relying party without following it.
	redirect, err := oidctest.Login(srv.Client(), authURL, "alice", "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(redirect.Host+redirect.Path, redirect.Query().Get("state"))

	tok, err := conf.Exchange(ctx, redirect.Query().Get("code"),
		oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	rawIDToken, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: "bridge"}).Verify(ctx, rawIDToken)
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := idToken.Claims(&claims); err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Email, claims.Groups, idToken.Nonce)
	// Output:
	// bridge.example.com/callback state-1
	// alice@example.com [Sales EMEA] nonce-1
}
