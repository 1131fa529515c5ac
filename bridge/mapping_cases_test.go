package bridge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

// The field cases C01-C11 as claims in testdata/map, each asserted here on MapClaims and,
// from the same files, on the map command's output (cmd/qlik-oidc-bridge/map_test.go).
// C12-C14 are token checks: see TestVerifyIDToken in the oidc package and
// TestCallbackBadInput.

// caseFile returns dir/variant.name, or dir/name when fallback allows and the variant
// has none, or "" when neither exists.
func caseFile(dir, variant, name string, fallback bool) string {
	for _, p := range []string{variant + "." + name, name} {
		p = filepath.Join("testdata", "map", dir, p)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if !fallback {
			break
		}
	}
	return ""
}

// caseConfig reads base.yaml and the variant's configuration fragment.
func caseConfig(t *testing.T, dir, variant string) (*Config, error) {
	t.Helper()
	client, _, _ := writeFakeCerts(t)
	base, err := os.ReadFile(filepath.Join("testdata", "map", "base.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fragment, err := os.ReadFile(caseFile(dir, variant, "config.yaml", true))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(base), "@DIR@", filepath.Dir(client)) + string(fragment)
	return Parse([]byte(text))
}

// mapCase maps one variant of a case for the virtual proxy "bi".
func mapCase(t *testing.T, dir, variant string) (*MapResult, error) {
	t.Helper()
	cfg, err := caseConfig(t, dir, variant)
	if err != nil {
		t.Fatal(err)
	}
	var in Claims
	for _, f := range []struct {
		name     string
		fallback bool
		to       *map[string]any
	}{{"claims.json", true, &in.IDToken}, {"userinfo.json", false, &in.Userinfo},
		{"access_token.json", false, &in.AccessToken}} {
		if p := caseFile(dir, variant, f.name, f.fallback); p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			*f.to = claimsOf(t, string(b))
		}
	}
	return MapClaims(cfg, "bi", in)
}

// wantAttrs fails unless the mapping succeeded with exactly these attributes, given as
// "Key=Value".
func wantAttrs(t *testing.T, res *MapResult, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	got := []string{}
	for _, a := range res.Identity.Attributes {
		got = append(got, a.Key+"="+a.Value)
	}
	if want == nil {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("attributes = %q, want %q", got, want)
	}
	if len(res.Sources.Attributes) != len(got) {
		t.Fatalf("%d sources for %d attributes", len(res.Sources.Attributes), len(got))
	}
}

func wantUser(t *testing.T, res *MapResult, dir, uid string) {
	t.Helper()
	if res.Identity.UserDirectory != dir || res.Identity.UserID != uid {
		t.Fatalf("user = %s / %s, want %s / %s", res.Identity.UserDirectory,
			res.Identity.UserID, dir, uid)
	}
}

// C01: a groups overage is never read as "no groups", and the bridge fetches nothing
// (TestC01OverageFetchesNothing sends a login through the callback).
func TestC01EntraGroupOverage(t *testing.T) {
	for _, variant := range []string{"graph", "attacker", "hasgroups"} {
		t.Run(variant, func(t *testing.T) {
			_, err := mapCase(t, "c01-entra-overage", variant)
			wantRefusal(t, err, "groups overage", "Groups assigned to the application")
		})
	}
}

// Another distributed claim is no more read as absent than groups are.
func TestDistributedClaimOtherThanGroups(t *testing.T) {
	m := checked(t, &Mapping{UserDirectory: "D",
		Attributes: []AttributeMapping{{Claim: "/dept/name", Attribute: "dept"}}})
	_, err := mapIdentity(m, claimsOf(t, `{"sub":"s","_claim_names":{"dept":"src1"},`+
		`"_claim_sources":{"src1":{"endpoint":"https://claims.example.com/"}}}`))
	wantRefusal(t, err, `a link to the claim "dept"`, "distributed claim")
}

// C02: Entra group object ids mapped to names; app roles as groups.
func TestC02EntraObjectIDsAndRoles(t *testing.T) {
	res, err := mapCase(t, "c02-entra-object-ids", "keep")
	wantAttrs(t, res, err, "Group=Finance", "Group=0e204e43-0000-4000-8000-000000000002")
	if src := res.Sources.Attributes[0]; !strings.Contains(src, `named from "1f4b68ea-`) {
		t.Errorf("source = %q", src)
	}
	res, err = mapCase(t, "c02-entra-object-ids", "drop")
	wantAttrs(t, res, err, "Group=Finance")
	res, err = mapCase(t, "c02-entra-object-ids", "roles")
	wantAttrs(t, res, err, "Group=Qlik.Analyzer", "Group=Qlik.Admin")
	res, err = mapCase(t, "c02-entra-object-ids", "roles-absent")
	wantAttrs(t, res, err)
}

// C03: Keycloak group paths without the leading slash, once each, in order.
func TestC03KeycloakGroupPaths(t *testing.T) {
	res, err := mapCase(t, "c03-keycloak-group-paths", "strip")
	wantAttrs(t, res, err, "Group=admin", "Group=test/developer", "Group=test/lead",
		"Group=developer")
}

// C04: a JSON pointer names a client id with a dot; a path to nothing is no groups and a
// note; a path to an object is a configuration error.
func TestC04KeycloakClientRoles(t *testing.T) {
	res, err := mapCase(t, "c04-keycloak-client-roles", "client-roles")
	wantAttrs(t, res, err, "Group=qlik-admin")

	res, err = mapCase(t, "c04-keycloak-client-roles", "missing-path")
	wantAttrs(t, res, err)
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0],
		`claim path /resource_access/qlik-bridge/roles found nothing`) {
		t.Errorf("notes = %q", res.Notes)
	}

	_, err = mapCase(t, "c04-keycloak-client-roles", "object")
	wantRefusal(t, err, `"authorization", which holds an object`, "mapping configuration")

	_, err = caseConfig(t, "c04-keycloak-client-roles", "object-static")
	if err == nil || !strings.Contains(err.Error(),
		`mapping.groups_claim: "/resource_access/qlik.bridge" holds an object`) {
		t.Errorf("config error = %v", err)
	}

	res, err = mapCase(t, "c04-keycloak-client-roles", "realm-roles")
	wantAttrs(t, res, err, "Group=analyst")
	if src := res.Sources.Attributes[0]; src != `access_token "/realm_access/roles"` {
		t.Errorf("source = %q", src)
	}
}

// C05: userinfo adds claims and never blanks the ID token's; another sub refuses.
func TestC05ADFSUserinfoOnlySub(t *testing.T) {
	for _, variant := range []string{"sub-only", "blanks"} {
		res, err := mapCase(t, "c05-adfs-userinfo", variant)
		wantAttrs(t, res, err)
		wantUser(t, res, "CORP", "alice")
	}
	_, err := mapCase(t, "c05-adfs-userinfo", "other-sub")
	wantRefusal(t, err, "about another user", "userinfo sub differs")
}

// C06: DOMAIN\user split, groups as the CN of their DN; a backslash never reaches the QPS.
func TestC06ADFSDomainUserAndDNs(t *testing.T) {
	res, err := mapCase(t, "c06-adfs-dn", "split")
	wantAttrs(t, res, err, "Group=Sales, EMEA", "Group=Qlik Users")
	wantUser(t, res, "CORP", "alice")

	_, err = mapCase(t, "c06-adfs-dn", "no-split")
	wantRefusal(t, err, "backslash", "qlik identity rules")
}

// C07: groups that the ID token lacks come from userinfo; a claim the ID token has, even
// empty, is not replaced.
func TestC07OktaThinIDToken(t *testing.T) {
	res, err := mapCase(t, "c07-okta-thin-token", "thin")
	wantAttrs(t, res, err, "Group=Everyone", "Group=Qlik-Analysts")
	if res.Sources.Attributes[0] != `userinfo "groups"` {
		t.Errorf("source = %q", res.Sources.Attributes[0])
	}
	res, err = mapCase(t, "c07-okta-thin-token", "empty-in-token")
	wantAttrs(t, res, err)
	res, err = mapCase(t, "c07-okta-thin-token", "no-userinfo")
	wantAttrs(t, res, err)
}

// C08: the Google hosted domain comes from hd, never from the email; an email used as
// the UserId must be verified (true or "true").
func TestC08GoogleHostedDomain(t *testing.T) {
	res, err := mapCase(t, "c08-google-hosted-domain", "hd")
	wantAttrs(t, res, err)
	wantUser(t, res, "GOOGLE", "alice@example.com")
	res, err = mapCase(t, "c08-google-hosted-domain", "verified-text")
	wantAttrs(t, res, err)

	_, err = mapCase(t, "c08-google-hosted-domain", "no-hd")
	wantRefusal(t, err, "Google account", "access.hosted_domains")
	for _, variant := range []string{"unverified", "verified-one"} {
		_, err = mapCase(t, "c08-google-hosted-domain", variant)
		wantRefusal(t, err, "not verified your email", "email_verified")
	}
}

// C09: the shapes of a groups claim (TestMappingGroupShapes has more).
func TestC09GroupShapes(t *testing.T) {
	for _, tc := range []struct {
		variant string
		want    []string
	}{
		{"string", []string{"Group=All-Active-Users"}},
		{"comma", []string{"Group=A,B"}},
		{"json-text", []string{`Group=["A","B"]`}},
		{"empty-and-null", []string{"Group=A"}},
		{"null", nil},
		{"separator", []string{"Group=A", "Group=B"}},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			res, err := mapCase(t, "c09-group-shapes", tc.variant)
			wantAttrs(t, res, err, tc.want...)
		})
	}
	_, err := mapCase(t, "c09-group-shapes", "wrong-elements")
	wantRefusal(t, err, `the claim "groups" has an element (#1, a number)`, "claim groups")
}

// C10: 400 groups of 40 characters: filtered, then refused or truncated as configured,
// and what is sent fits the proxy's header.
func TestC10TooManyGroups(t *testing.T) {
	_, err := mapCase(t, "c10-too-many-groups", "refuse")
	wantRefusal(t, err, "too many groups", "mapping.attributes_budget (over_budget: refuse)")

	res, err := mapCase(t, "c10-too-many-groups", "filter")
	wantAttrs(t, res, err, "Group=Qlik-000-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"Group=Qlik-080-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"Group=Qlik-160-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"Group=Qlik-240-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"Group=Qlik-320-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "email=alice@example.com")
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "395 value(s) left out") {
		t.Errorf("notes = %q", res.Notes)
	}

	res, err = mapCase(t, "c10-too-many-groups", "truncate")
	if err != nil {
		t.Fatal(err)
	}
	attrs := res.Identity.Attributes
	if n := qlik.AttributesSize(attrs); n > 4096 || n < 4096-60 {
		t.Errorf("truncated to %d bytes, want just under 4096", n)
	}
	if last := attrs[len(attrs)-1]; last.Key != "email" {
		t.Errorf("the email attribute was dropped: last is %+v", last)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "dropped the last 324 of 400") {
		t.Errorf("notes = %q", res.Notes)
	}
	header := make([]map[string]string, len(attrs))
	for i, a := range attrs {
		header[i] = map[string]string{a.Key: a.Value}
	}
	if n := qpstest.SecurityHeaderSize(header); n > 16384 {
		t.Errorf("the proxy's header would take %d bytes", n)
	}
}

// C11: identity strings trimmed, blank refused, UTF-8 kept, long refused by the cap.
func TestC11IdentityStrings(t *testing.T) {
	res, err := mapCase(t, "c11-identity-strings", "trimmed")
	wantAttrs(t, res, err)
	wantUser(t, res, "CORP", "alice")
	res, err = mapCase(t, "c11-identity-strings", "utf8")
	wantAttrs(t, res, err)
	wantUser(t, res, "CORP", "zoë.ångström")

	_, err = mapCase(t, "c11-identity-strings", "spaces")
	wantRefusal(t, err, `no value in the claim "sub"`, "mapping (UserId)")
	_, err = mapCase(t, "c11-identity-strings", "4kb")
	wantRefusal(t, err, "4096 characters long, more than the 512", "mapping.max_length")
	_, err = mapCase(t, "c11-identity-strings", "cap")
	wantRefusal(t, err, "12 characters long, more than the 5", "mapping.max_length")
}

// Each preset with claims shaped like its provider's, as the README shows them.
func TestPresetsWithProviderClaims(t *testing.T) {
	for _, tc := range []struct {
		preset   string
		dir, uid string
		attrs    []string
	}{
		{"entra", "CORP", "alice@corp.example", []string{"Group=Finance", "Group=Qlik Users",
			"Group=5e0a2c7f-0000-4000-8000-000000000003", "email=alice@corp.example",
			"name=Alice Andersson"}},
		{"okta", "OKTA", "alice@example.com", []string{"Group=Everyone", "Group=Qlik-Analysts",
			"email=alice@example.com", "name=Alice Andersson"}},
		{"keycloak", "KEYCLOAK", "alice", []string{"Group=qlik/analysts", "Group=qlik",
			"Group=staff", "email=alice@example.com", "name=Alice Andersson"}},
		{"adfs", "CORP", "alice", []string{"Group=Sales, EMEA", "Group=Qlik Users",
			"upn=alice@corp.example"}},
		{"google", "GOOGLE", "alice@example.com", []string{"name=Alice Andersson",
			"hd=example.com"}},
		{"auth0", "AUTH0", "alice@example.com", []string{"Group=analysts", "Group=staff",
			"name=Alice Andersson"}},
		{"dex", "DEX", "alice@example.com", []string{"Group=corp:analysts", "Group=corp:staff",
			"name=Alice Andersson"}},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			res, err := mapCase(t, "preset-"+tc.preset, "login")
			wantAttrs(t, res, err, tc.attrs...)
			wantUser(t, res, tc.dir, tc.uid)
		})
	}
}

// The map command's golden files (checked by its own test) say what the assertions above
// say: each agrees with MapClaims on the identity, the sources and the refusal.
func TestCaseGoldenFilesAgree(t *testing.T) {
	wants, err := filepath.Glob(filepath.Join("testdata", "map", "*", "*.want.json"))
	if err != nil || len(wants) == 0 {
		t.Fatal(wants, err)
	}
	for _, want := range wants {
		dir := filepath.Base(filepath.Dir(want))
		variant, _, _ := strings.Cut(filepath.Base(want), ".")
		t.Run(dir+"/"+variant, func(t *testing.T) {
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			var golden struct {
				Identity *struct {
					UserDirectory, UserId string
					Attributes            []qlik.Attribute
				}
				Sources Sources
				Refused *struct{ Reason, Rule string }
				Notes   []string
			}
			if err := json.Unmarshal(b, &golden); err != nil {
				t.Fatal(err)
			}
			res, err := mapCase(t, dir, variant)
			if golden.Refused != nil {
				wantRefusal(t, err, golden.Refused.Reason, golden.Refused.Rule)
				return
			}
			if err != nil || golden.Identity == nil {
				t.Fatalf("MapClaims: %v; golden %s", err, b)
			}
			id := golden.Identity
			if id.UserDirectory != res.Identity.UserDirectory || id.UserId != res.Identity.UserID ||
				!reflect.DeepEqual(id.Attributes, res.Identity.Attributes) ||
				!reflect.DeepEqual(golden.Sources, res.Sources) ||
				!reflect.DeepEqual(golden.Notes, append([]string{}, res.Notes...)) {
				t.Fatalf("golden %s\nMapClaims %+v", b, res)
			}
		})
	}
}
