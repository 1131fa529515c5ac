package oidctest_test

import (
	"net/http"
	"net/url"
	"testing"
)

func TestLogout(t *testing.T) {
	e := setup(t, nil)
	a := start(e.basic)
	tok, err := e.exchange(e.basic, e.code(t, a, "alice"), a.verifier)
	if err != nil {
		t.Fatal(err)
	}
	hint := tok.Extra("id_token").(string)
	forged := rawJWT(map[string]any{"alg": "none"}, map[string]any{
		"iss": e.srv.URL, "aud": basicID,
	}, func([]byte) []byte { return nil })
	const bye = "https://rp.example.com/bye"

	for _, tc := range []struct {
		name     string
		params   url.Values
		status   int
		location string
	}{
		{"no parameters", url.Values{}, http.StatusOK, ""},
		{"client_id", url.Values{"client_id": {basicID}, "post_logout_redirect_uri": {bye},
			"state": {"s1"}}, http.StatusFound, bye + "?state=s1"},
		{"id_token_hint", url.Values{"id_token_hint": {hint},
			"post_logout_redirect_uri": {bye}}, http.StatusFound, bye},
		{"unregistered uri", url.Values{"client_id": {basicID},
			"post_logout_redirect_uri": {"https://evil.example/"}}, http.StatusBadRequest, ""},
		{"no client", url.Values{"post_logout_redirect_uri": {bye}},
			http.StatusBadRequest, ""},
		{"other client's uri", url.Values{"client_id": {postID},
			"post_logout_redirect_uri": {bye}}, http.StatusBadRequest, ""},
		{"forged hint", url.Values{"id_token_hint": {forged},
			"post_logout_redirect_uri": {bye}}, http.StatusBadRequest, ""},
		{"hint for another client", url.Values{"id_token_hint": {hint},
			"client_id": {postID}, "post_logout_redirect_uri": {bye}}, http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := e.get(t, e.srv.URL+"/logout?"+tc.params.Encode())
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Errorf("status %d, Location %q; want %d, %q", resp.StatusCode,
					resp.Header.Get("Location"), tc.status, tc.location)
			}
		})
	}
}
