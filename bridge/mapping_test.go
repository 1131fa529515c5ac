package bridge

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

func claimsOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func groupsOf(id qlik.Identity) []string {
	var g []string
	for _, a := range id.Attributes {
		if a.Key == "Group" {
			g = append(g, a.Value)
		}
	}
	return g
}

func testMapping() *Mapping {
	m := &Mapping{UserDirectory: "CORP"}
	m.check(&problems{}, "mapping")
	return m
}

// C09: groups of the wrong shape are read one way everywhere.
func TestMappingGroupShapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claims  string
		want    []string
		refused string // part of the refusal, "" = accepted
	}{
		{"one string", `{"sub":"a","groups":"All-Active-Users"}`, []string{"All-Active-Users"}, ""},
		{"comma is not a separator", `{"sub":"a","groups":"A,B"}`, []string{"A,B"}, ""},
		{"no hidden JSON", `{"sub":"a","groups":"[\"A\",\"B\"]"}`, []string{`["A","B"]`}, ""},
		{"empty and null dropped", `{"sub":"a","groups":["A","",null]}`, []string{"A"}, ""},
		{"null", `{"sub":"a","groups":null}`, nil, ""},
		{"absent", `{"sub":"a"}`, nil, ""},
		{"duplicates once, in order", `{"sub":"a","groups":["B","A","B"]}`, []string{"B", "A"}, ""},
		{"number element", `{"sub":"a","groups":["A",1,{"x":1}]}`, nil, `"groups" has an element (#1, a number)`},
		{"object", `{"sub":"a","groups":{"x":1}}`, nil, `"groups" is a object`},
		{"boolean", `{"sub":"a","groups":true}`, nil, `"groups" is a boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := mapIdentity(testMapping(), claimsOf(t, tc.claims))
			if tc.refused != "" {
				var r *refusal
				if !errors.As(err, &r) || !strings.Contains(r.Reason, tc.refused) {
					t.Fatalf("err = %v, want a refusal containing %q", err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := groupsOf(id); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("groups = %q, want %q", got, tc.want)
			}
		})
	}
}

// C11: identity strings are trimmed, and refused when nothing is left or a backslash is in.
func TestMappingIdentityStrings(t *testing.T) {
	for _, tc := range []struct{ name, claims, want string }{
		{"trimmed", `{"sub":"  alice  "}`, "alice"},
		{"utf-8", `{"sub":"zoë.ångström"}`, "zoë.ångström"},
		{"only spaces", `{"sub":"   "}`, ""},
		{"backslash", `{"sub":"CORP\\alice"}`, ""},
		{"missing", `{"email":"a@example.com"}`, ""},
		{"two values", `{"sub":["a","b"]}`, ""},
		{"number", `{"sub":12}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := mapIdentity(testMapping(), claimsOf(t, tc.claims))
			if tc.want == "" {
				var r *refusal
				if !errors.As(err, &r) {
					t.Fatalf("err = %v (id %+v), want a refusal", err, id)
				}
				return
			}
			if err != nil || id.UserID != tc.want || id.UserDirectory != "CORP" {
				t.Fatalf("got %+v, %v; want UserId %q", id, err, tc.want)
			}
		})
	}
}

func TestMappingAttributes(t *testing.T) {
	m := &Mapping{UserDirectoryClaim: "tenant", UserIDClaim: "preferred_username",
		Attributes: []AttributeMapping{{Claim: "email", Attribute: "email"},
			{Claim: "dept", Attribute: "Department", Required: true}}}
	m.check(&problems{}, "mapping")
	id, err := mapIdentity(m, claimsOf(t,
		`{"tenant":"EU","preferred_username":"bob","groups":["G"],"email":"b@x.example","dept":""}`))
	var r *refusal
	if !errors.As(err, &r) || !strings.Contains(r.Reason, `"dept"`) {
		t.Fatalf("a required but empty claim: err = %v", err)
	}
	id, err = mapIdentity(m, claimsOf(t,
		`{"tenant":"EU","preferred_username":"bob","groups":["G"],"email":"b@x.example","dept":"R&D"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := qlik.Identity{UserDirectory: "EU", UserID: "bob", Attributes: []qlik.Attribute{
		{Key: "Group", Value: "G"}, {Key: "email", Value: "b@x.example"},
		{Key: "Department", Value: "R&D"}}}
	if !reflect.DeepEqual(id, want) {
		t.Errorf("got %+v\nwant %+v", id, want)
	}
}

func TestNeedsUserinfo(t *testing.T) {
	m := testMapping()
	if needsUserinfo(m, claimsOf(t, `{"sub":"a","groups":[]}`)) {
		t.Error("an empty groups claim is present: no userinfo needed")
	}
	// C07: Okta's thin ID token has no groups claim at all.
	if !needsUserinfo(m, claimsOf(t, `{"sub":"a","email":"a@example.com"}`)) {
		t.Error("an absent groups claim needs userinfo")
	}
}

func TestAccessRules(t *testing.T) {
	alice := qlik.Identity{UserDirectory: "D", UserID: "alice",
		Attributes: []qlik.Attribute{{Key: "Group", Value: "Sales"}, {Key: "email", Value: "Finance"}}}
	for _, tc := range []struct {
		name   string
		access Access
		ok     bool
	}{
		{"nothing configured lets nobody in", Access{}, false},
		{"everyone", Access{AnyAuthenticatedUser: true}, true},
		{"group member", Access{Groups: []string{"Finance", "Sales"}}, true},
		{"attribute of another key is no group", Access{Groups: []string{"Finance"}}, false},
		{"group names are exact", Access{Groups: []string{"sales"}}, false},
		{"listed user", Access{Users: []string{"ALICE"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.access.allows(alice, "Group")
			if (err == nil) != tc.ok {
				t.Errorf("allows = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
