package bridge

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestClaimLookup(t *testing.T) {
	claims := `{
		"sub": "s1",
		"cognito:groups": ["c"],
		"https://qlik.example.com/groups": ["n"],
		"/literal/path": ["literal wins"],
		"literal": {"path": ["pointer"]},
		"resource_access": {"qlik.bridge": {"roles": ["qlik-admin"]}, "a/b": {"roles": ["slash"]},
			"m~n": {"roles": ["tilde"]}},
		"list": [["zero"], ["one"]],
		"": {"": ["empty keys"]}
	}`
	cs := claimSet{{sourceIDToken, claimsOf(t, claims)}}
	for _, tc := range []struct {
		name, claim string
		want        string // JSON of the value; "" = absent
		note        string // part of the note
	}{
		{"literal name with a colon", "cognito:groups", `["c"]`, ""},
		{"literal name that is a URL", "https://qlik.example.com/groups", `["n"]`, ""},
		{"a literal claim beats a pointer", "/literal/path", `["literal wins"]`, ""},
		{"pointer with a dot", "/resource_access/qlik.bridge/roles", `["qlik-admin"]`, ""},
		{"pointer with ~1", "/resource_access/a~1b/roles", `["slash"]`, ""},
		{"pointer with ~0", "/resource_access/m~0n/roles", `["tilde"]`, ""},
		{"array index", "/list/1", `["one"]`, ""},
		{"empty keys", "//", `["empty keys"]`, ""},
		{"missing top-level claim", "/realm_access/roles", "", `no claim "realm_access"`},
		{"missing key", "/resource_access/qlik-bridge/roles", "",
			`/resource_access has no "qlik-bridge"`},
		{"through a list by name", "/list/x", "", `/list has no "x"`},
		{"index out of range", "/list/2", "", `/list has no "2"`},
		{"index with a leading zero", "/list/01", "", `has no "01"`},
		{"through text", "/sub/x", "", `/sub has no "x"`},
		{"bad escape", "/resource_access/~2", "", `must be followed by 0`},
		{"plain missing name", "groups", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := cs.lookup(tc.claim)
			if tc.want == "" {
				if f.present || !strings.Contains(f.note, tc.note) {
					t.Fatalf("lookup = %+v, want absent with a note containing %q", f, tc.note)
				}
				return
			}
			got, _ := json.Marshal(f.value)
			if !f.present || string(got) != tc.want || f.source != sourceIDToken {
				t.Fatalf("lookup = %+v (%s), want %s", f, got, tc.want)
			}
		})
	}
}

// The ID token's claims come first; userinfo and the access token only add claims.
func TestClaimSources(t *testing.T) {
	cs, err := newClaimSet(Claims{
		IDToken:     claimsOf(t, `{"sub":"s1","groups":[],"name":null}`),
		Userinfo:    claimsOf(t, `{"sub":"s1","groups":["u"],"name":"N","email":"e@x"}`),
		AccessToken: claimsOf(t, `{"sub":"s1","email":"other","realm_access":{"roles":["r"]}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ claim, source, value string }{
		{"groups", sourceIDToken, "[]"},
		{"name", sourceIDToken, "null"},
		{"email", sourceUserinfo, `"e@x"`},
		{"/realm_access/roles", sourceAccessToken, `["r"]`},
	} {
		f := cs.lookup(tc.claim)
		got, _ := json.Marshal(f.value)
		if f.source != tc.source || string(got) != tc.value {
			t.Errorf("%s from %s = %s, want %s from %s", tc.claim, f.source, got, tc.value,
				tc.source)
		}
	}
}

// C05: claims about another subject refuse the login.
func TestClaimSourcesOfAnotherUser(t *testing.T) {
	id := claimsOf(t, `{"sub":"s1"}`)
	for _, tc := range []struct {
		name string
		in   Claims
		ok   bool
	}{
		{"userinfo of the same subject", Claims{IDToken: id, Userinfo: claimsOf(t, `{"sub":"s1"}`)}, true},
		{"userinfo of another subject", Claims{IDToken: id, Userinfo: claimsOf(t, `{"sub":"s2"}`)}, false},
		{"userinfo without sub", Claims{IDToken: id, Userinfo: claimsOf(t, `{"name":"x"}`)}, false},
		{"userinfo sub of another type", Claims{IDToken: id, Userinfo: claimsOf(t, `{"sub":1}`)}, false},
		{"access token of another subject", Claims{IDToken: id,
			AccessToken: claimsOf(t, `{"sub":"s2"}`)}, false},
		{"access token without sub", Claims{IDToken: id, AccessToken: claimsOf(t, `{"azp":"c"}`)}, true},
		{"no ID token sub", Claims{IDToken: claimsOf(t, `{"name":"x"}`)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newClaimSet(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func FuzzClaimLookup(f *testing.F) {
	f.Add(`{"resource_access":{"qlik.bridge":{"roles":["a"]}}}`, "/resource_access/qlik.bridge/roles")
	f.Add(`{"a/b":{"~":["x"]}}`, "/a~1b/~0")
	f.Add(`{"l":[1,[2]]}`, "/l/1/0")
	f.Add(`{"":{"":1}}`, "//")
	f.Fuzz(func(t *testing.T, doc, name string) {
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		var claims map[string]any
		if dec.Decode(&claims) != nil || claims == nil {
			return
		}
		cs := claimSet{{sourceIDToken, claims}}
		got := cs.lookup(name)
		_, literal := claims[name]
		if got.present && got.note != "" ||
			!got.present && !literal && strings.HasPrefix(name, "/") && got.note == "" {
			t.Fatalf("lookup(%q) = %+v: a value and a note, or a failed path without one",
				name, got)
		}
		if literal && !got.present {
			t.Fatalf("the literal claim %q was not found", name)
		}
		if ptr, err := parsePointer(name); err == nil {
			if back := pointerString(ptr); back != name {
				t.Fatalf("pointer %q writes back as %q", name, back)
			}
		}
		// Whatever the claim holds, reading it as strings refuses or succeeds, never panics.
		_, _ = claimStrings(got.value, name)
	})
}
