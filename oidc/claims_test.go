package oidc

import (
	"encoding/json"
	"testing"
)

func TestMergeClaims(t *testing.T) {
	cases := []struct {
		name              string
		idToken, userinfo map[string]any
		want              map[string]any
	}{
		{name: "C05 userinfo with only sub erases nothing",
			idToken: map[string]any{"sub": "LoLTfakeSubject=", "upn": "alice@corp.example",
				"unique_name": `CORP\alice`},
			userinfo: map[string]any{"sub": "LoLTfakeSubject="},
			want: map[string]any{"sub": "LoLTfakeSubject=", "upn": "alice@corp.example",
				"unique_name": `CORP\alice`}},
		{name: "C07 groups added from userinfo",
			idToken: map[string]any{"sub": "00uFAKEalice", "email": "alice@example.com"},
			userinfo: map[string]any{"sub": "00uFAKEalice",
				"groups": []any{"Everyone", "Qlik-Analysts"}},
			want: map[string]any{"sub": "00uFAKEalice", "email": "alice@example.com",
				"groups": []any{"Everyone", "Qlik-Analysts"}}},
		{name: "a null ID token claim is not replaced",
			idToken:  map[string]any{"groups": nil},
			userinfo: map[string]any{"groups": []any{"Admins"}},
			want:     map[string]any{"groups": nil}},
		{name: "an empty ID token claim is not replaced",
			idToken:  map[string]any{"name": ""},
			userinfo: map[string]any{"name": "Alice"},
			want:     map[string]any{"name": ""}},
		{name: "nil userinfo", idToken: map[string]any{"sub": "a"},
			want: map[string]any{"sub": "a"}},
		{name: "nil ID token", userinfo: map[string]any{"sub": "a"},
			want: map[string]any{"sub": "a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := json.Marshal(tc.idToken)
			got := MergeClaims(tc.idToken, tc.userinfo)
			if !jsonEqual(got, tc.want) {
				t.Errorf("MergeClaims = %#v, want %#v", got, tc.want)
			}
			if after, _ := json.Marshal(tc.idToken); string(after) != string(before) {
				t.Error("MergeClaims changed its input")
			}
		})
	}
}

func TestDecodeObject(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"object", `{"a":1}`, true},
		{"null", `null`, false},
		{"array", `[1]`, false},
		{"trailing data", `{"a":1} {"b":2}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeObject([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("decodeObject(%s) = %v, %v", tc.in, m, err)
			}
			if tc.ok && m["a"] != json.Number("1") {
				t.Errorf("a = %#v, want json.Number", m["a"])
			}
		})
	}
}
