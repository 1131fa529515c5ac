package qlik

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name      string
		dir, user string
		want      Identity // zero: refused
		field     string   // the field a refusal names
	}{
		{name: "plain", dir: "CORP", user: "alice",
			want: Identity{UserDirectory: "CORP", UserID: "alice"}},
		{name: "trimmed", dir: "\tCORP ", user: "  alice  ",
			want: Identity{UserDirectory: "CORP", UserID: "alice"}},
		{name: "UTF-8", dir: "CORP", user: "zoë.ångström",
			want: Identity{UserDirectory: "CORP", UserID: "zoë.ångström"}},
		{name: "only white space", dir: "CORP", user: "   ", field: "UserId"},
		{name: "empty user", dir: "CORP", user: "", field: "UserId"},
		{name: "empty directory", dir: "", user: "alice", field: "UserDirectory"},
		{name: "DOMAIN\\user", dir: "CORP", user: `CORP\alice`, field: "UserId"},
		{name: "backslash in directory", dir: `CORP\`, user: "alice", field: "UserDirectory"},
		{name: "control character", dir: "CORP", user: "al\x00ice", field: "UserId"},
		{name: "replacement character", dir: "CORP", user: "al\ufffdice", field: "UserId"},
		{name: "zero-width space", dir: "CORP", user: "al\u200bice", field: "UserId"},
		{name: "direction override", dir: "CO\u202eRP", user: "alice", field: "UserDirectory"},
		{name: "line separator", dir: "CORP", user: "al\u2028ice", field: "UserId"},
		{name: "newline", dir: "CO\nRP", user: "alice", field: "UserDirectory"},
		{name: "invalid UTF-8", dir: "CORP", user: "al\xffice", field: "UserId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Identity{UserDirectory: tc.dir, UserID: tc.user}.Normalize()
			if tc.field == "" {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidIdentity) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("got %v, want ErrInvalidIdentity naming %s", err, tc.field)
			}
		})
	}
}

func TestNormalizeKeepsAttributes(t *testing.T) {
	id, err := alice.Normalize()
	if err != nil || !reflect.DeepEqual(id.Attributes, alice.Attributes) {
		t.Errorf("got %+v, %v", id, err)
	}
}

func TestAttributeJSONRoundTrip(t *testing.T) {
	attrs := []Attribute{
		{"Group", "Sales"}, {"Group", "EMEA"}, {"email", ""}, {"", "no key"},
		{`quote"key`, `<a&b>`}, {"zoë", "ångström"}, {"Group", "Sales, EMEA"},
	}
	const want = `[{"Group":"Sales"},{"Group":"EMEA"},{"email":""},{"":"no key"},` +
		`{"quote\"key":"\u003ca\u0026b\u003e"},{"zoë":"ångström"},{"Group":"Sales, EMEA"}]`
	b, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back []Attribute
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, attrs) {
		t.Errorf("round trip gave %q, want %q", back, attrs)
	}
}

func TestAttributeUnmarshalRefuses(t *testing.T) {
	tests := map[string]string{
		"empty object": `{}`,
		"two keys":     `{"a":"1","b":"2"}`,
		"repeated key": `{"a":"1","a":"2"}`,
		"number":       `{"a":1}`,
		"null value":   `{"a":null}`,
		"nested":       `{"a":{"b":"c"}}`,
		"array":        `["a","b"]`,
		"string":       `"Group=Sales"`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			var a Attribute
			if err := json.Unmarshal([]byte(in), &a); err == nil {
				t.Errorf("accepted %s as %+v", in, a)
			}
		})
	}
}

func TestAttributesSize(t *testing.T) {
	tests := []struct {
		name  string
		attrs []Attribute
		want  int
	}{
		{"nil", nil, 2},
		{"one", []Attribute{{"Group", "Sales"}}, len(`[{"Group":"Sales"}]`)},
		{"two", []Attribute{{"Group", "Sales"}, {"Group", ""}},
			len(`[{"Group":"Sales"},{"Group":""}]`)},
		{"escaped", []Attribute{{"a", "\"\n<"}}, len(`[{"a":"\"\n<"}]`)},
		{"UTF-8", []Attribute{{"n", "ö"}}, len(`[{"n":"ö"}]`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AttributesSize(tc.attrs); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func ExampleIdentity_Normalize() {
	id, err := Identity{UserDirectory: "CORP", UserID: "  alice  "}.Normalize()
	fmt.Printf("%q %v\n", id.UserID, err)
	_, err = Identity{UserDirectory: "CORP", UserID: `CORP\alice`}.Normalize()
	fmt.Println(err)
	// Output:
	// "alice" <nil>
	// qlik: invalid identity: UserId contains a backslash; split DOMAIN\user into UserDirectory and UserId
}

func ExampleAttribute() {
	b, _ := json.Marshal([]Attribute{{"Group", "Sales"}, {"Group", "EMEA"}, {"email", ""}})
	fmt.Println(string(b))
	// Output: [{"Group":"Sales"},{"Group":"EMEA"},{"email":""}]
}
