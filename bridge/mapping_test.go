package bridge

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

func claimsOf(t testing.TB, s string) map[string]any {
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

// mapIdentity maps the claims of an ID token alone, letting every user in.
func mapIdentity(m *Mapping, claims map[string]any) (qlik.Identity, error) {
	res, err := decide(m, &Access{AnyAuthenticatedUser: true}, Claims{IDToken: claims})
	return res.Identity, err
}

// checked returns m after its configuration check, which must find nothing.
func checked(t testing.TB, m *Mapping) *Mapping {
	t.Helper()
	p := &problems{}
	m.check(p, "mapping")
	if err := p.err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func testMapping() *Mapping {
	m := &Mapping{UserDirectory: "CORP"}
	m.check(&problems{}, "mapping")
	return m
}

// wantRefusal fails unless err is a refusal whose reason and rule contain the parts.
func wantRefusal(t *testing.T, err error, reason, rule string) {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) || !strings.Contains(r.Reason, reason) || !strings.Contains(r.Rule, rule) {
		t.Fatalf("err = %v, want a refusal with reason %q and rule %q", err, reason, rule)
	}
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
		{"object element", `{"sub":"a","groups":["A",{"x":1}]}`, nil, `"groups" has an element (#1, an object)`},
		{"object", `{"sub":"a","groups":{"x":1}}`, nil, `"groups", which holds an object`},
		{"boolean", `{"sub":"a","groups":true}`, nil, `"groups" is a boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := mapIdentity(testMapping(), claimsOf(t, tc.claims))
			if tc.refused != "" {
				wantRefusal(t, err, tc.refused, "")
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

// C11: identity strings are trimmed, and refused when nothing is left, a backslash is in,
// or they are longer than the cap.
func TestMappingIdentityStrings(t *testing.T) {
	long := strings.Repeat("a", 513)
	for _, tc := range []struct{ name, claims, want string }{
		{"trimmed", `{"sub":"  alice  "}`, "alice"},
		{"utf-8", `{"sub":"zoë.ångström"}`, "zoë.ångström"},
		{"at the cap", `{"sub":"` + long[:512] + `"}`, long[:512]},
		{"over the cap", `{"sub":"` + long + `"}`, ""},
		{"only spaces", `{"sub":"   "}`, ""},
		{"backslash", `{"sub":"CORP\\alice"}`, ""},
		{"missing", `{"email":"a@example.com"}`, ""},
		{"two values", `{"sub":["a","b"]}`, ""},
		{"number", `{"sub":12}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := mapIdentity(testMapping(), claimsOf(t, tc.claims))
			if tc.want == "" {
				var r *Refusal
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
	m := checked(t, &Mapping{UserDirectoryClaim: "tenant", UserIDClaim: "preferred_username",
		Attributes: []AttributeMapping{{Claim: "email", Attribute: "email"},
			{Claim: "dept", Attribute: "Department", Required: true},
			{Claim: "roles", Attribute: "Group"}}})
	base := `"sub":"s1","tenant":"EU","preferred_username":"bob","groups":["G"],` +
		`"email":"b@x.example","roles":["G","R"]`
	_, err := mapIdentity(m, claimsOf(t, `{`+base+`,"dept":""}`))
	wantRefusal(t, err, `"dept"`, "mapping.attributes[1] (required)")

	id, err := mapIdentity(m, claimsOf(t, `{`+base+`,"dept":"R&D"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := qlik.Identity{UserDirectory: "EU", UserID: "bob", Attributes: []qlik.Attribute{
		{Key: "Group", Value: "G"}, {Key: "email", Value: "b@x.example"},
		{Key: "Department", Value: "R&D"}, {Key: "Group", Value: "R"}}}
	if !reflect.DeepEqual(id, want) {
		t.Errorf("got %+v\nwant %+v (a group from two claims is sent once)", id, want)
	}
}

// Every value is capped, not only the identity's.
func TestMappingAttributeValueCap(t *testing.T) {
	m := checked(t, &Mapping{UserDirectory: "D", MaxLength: 8})
	_, err := mapIdentity(m, claimsOf(t, `{"sub":"alice","groups":["short","much-too-long"]}`))
	wantRefusal(t, err, `a value of the claim "groups" is 13 characters long, more than the 8`,
		"mapping.max_length")
}

// The proxy forwards attributes as "key=value;" pairs in a header: a value with ";" or a
// control character could read as another attribute, so it is dropped (and logged); a
// UserId with ";" refuses the login.
func TestHeaderUnsafeValues(t *testing.T) {
	m := checked(t, &Mapping{UserDirectory: "D",
		Attributes: []AttributeMapping{{Claim: "name", Attribute: "name"}}})
	res, err := decide(m, &Access{AnyAuthenticatedUser: true}, Claims{IDToken: claimsOf(t,
		`{"sub":"alice","name":"Eve; Group=Admins","groups":["Sales","a\nb","Ops"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(res.Identity); !reflect.DeepEqual(got, []string{"Sales", "Ops"}) ||
		len(res.Identity.Attributes) != 2 || len(res.Notes) != 2 {
		t.Fatalf("attributes %+v, notes %q", res.Identity.Attributes, res.Notes)
	}
	_, err = mapIdentity(m, claimsOf(t, `{"sub":"alice; UserDirectory=ADMIN"}`))
	wantRefusal(t, err, `would contain a ";"`, "qlik identity rules")

	p := &problems{}
	(&Mapping{UserDirectory: "D", GroupAttribute: "Group; x"}).check(p, "mapping")
	if err := p.err(); err == nil || !strings.Contains(err.Error(), "mapping.group_attribute") {
		t.Errorf("config: %v", err)
	}
}

func TestSplitDomainUser(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fallback string // user_directory
		value    string
		dir, uid string // "" = refused
	}{
		{"split at the first backslash", "", `CORP\\alice`, "CORP", "alice"},
		{"a second backslash is refused", "", `CORP\\ali\\ce`, "", ""},
		{"no domain, no fallback", "", `alice`, "", ""},
		{"no domain, the fallback", "CORP", `alice`, "CORP", "alice"},
		{"empty domain", "CORP", `\\alice`, "", ""},
		{"empty user", "", `CORP\\`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := checked(t, &Mapping{UserIDClaim: "unique_name", SplitDomainUser: true,
				UserDirectory: tc.fallback})
			id, err := mapIdentity(m, claimsOf(t, `{"sub":"s","unique_name":"`+tc.value+`"}`))
			if tc.dir == "" {
				var r *Refusal
				if !errors.As(err, &r) {
					t.Fatalf("got %+v, %v; want a refusal", id, err)
				}
				return
			}
			if err != nil || id.UserDirectory != tc.dir || id.UserID != tc.uid {
				t.Fatalf("got %+v, %v; want %s / %s", id, err, tc.dir, tc.uid)
			}
		})
	}
}

func TestMappingConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Mapping
		want string
	}{
		{"no directory", Mapping{}, "user_directory: required"},
		{"directory twice", Mapping{UserDirectory: "A", UserDirectoryClaim: "b"}, "not both"},
		{"split with a directory claim", Mapping{SplitDomainUser: true, UserDirectoryClaim: "d"},
			"split_domain_user: takes the directory from the user id claim"},
		{"backslash in the directory", Mapping{UserDirectory: `A\B`}, "must not contain a backslash"},
		{"bad pointer", Mapping{UserDirectory: "D", GroupsClaim: "/a/~2"},
			`mapping.groups_claim: claim path "/a/~2": a "~" must be followed by 0`},
		{"known object", Mapping{UserDirectory: "D", GroupsClaim: "realm_access"},
			`"realm_access" holds an object, not text or a list of text; name a list inside it ` +
				`with a JSON pointer, e.g. /realm_access/roles`},
		{"client of resource_access", Mapping{UserDirectory: "D",
			GroupsClaim: "/resource_access/qlik.bridge"}, "holds an object"},
		{"bad glob is impossible, bad regexp is not", Mapping{UserDirectory: "D",
			Groups: Transform{Include: []string{"re:("}}}, "mapping.groups.include[0]"},
		{"empty pattern", Mapping{UserDirectory: "D", Groups: Transform{Exclude: []string{""}}},
			"an empty pattern matches nothing"},
		{"unmapped without names", Mapping{UserDirectory: "D", Groups: Transform{Unmapped: "drop"}},
			"unmapped: drop needs names"},
		{"unmapped value", Mapping{UserDirectory: "D", Groups: Transform{Unmapped: "hide"}},
			"must be keep or drop"},
		{"attribute without claim", Mapping{UserDirectory: "D",
			Attributes: []AttributeMapping{{Attribute: "x"}}}, "mapping.attributes[0]: needs both"},
		{"attribute claim is an object", Mapping{UserDirectory: "D",
			Attributes: []AttributeMapping{{Claim: "address", Attribute: "x"}}},
			"mapping.attributes[0].claim"},
		{"budget over 64 KB", Mapping{UserDirectory: "D", AttributesBudget: 70000},
			"attributes_budget: must be between"},
		{"over_budget", Mapping{UserDirectory: "D", OverBudget: "drop"}, "must be refuse or truncate"},
		{"negative cap", Mapping{UserDirectory: "D", MaxLength: -1}, "max_length: must be at least 1"},
		{"unknown preset", Mapping{UserDirectory: "D", Preset: "ping"},
			"preset: must be one of adfs, auth0, dex, entra, google, keycloak, okta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &problems{}
			tc.m.check(p, "mapping")
			if err := p.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
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
	m = checked(t, &Mapping{UserDirectory: "D", GroupsClaim: "/resource_access/app/roles"})
	if !needsUserinfo(m, claimsOf(t, `{"sub":"a","resource_access":{"account":{}}}`)) {
		t.Error("a claim path that finds nothing needs userinfo")
	}
}
