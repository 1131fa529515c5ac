package bridge

import (
	"reflect"
	"strings"
	"testing"
)

// Every preset is a valid mapping block once a UserDirectory is given (ADFS takes it from
// DOMAIN\user).
func TestPresetsLoad(t *testing.T) {
	for name := range presets {
		t.Run(name, func(t *testing.T) {
			m := &Mapping{Preset: name}
			if name != "adfs" {
				m.UserDirectory = "D"
			}
			checked(t, m)
		})
	}
}

// A key set next to the preset replaces the preset's value as a whole, and an explicit
// false or empty value counts as set.
func TestPresetKeysReplaceWholeValues(t *testing.T) {
	text := strings.Replace(minimalConfig(t), "mapping: {user_directory: CORP}", `mapping:
  preset: adfs
  user_directory: CORP
  split_domain_user: false
  groups: {strip_prefix: G-}
`, 1)
	cfg, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Mapping
	if m.UserIDClaim != "unique_name" || m.GroupsClaim != "group" || m.SplitDomainUser ||
		m.Groups.LDAPCN || m.Groups.StripPrefix != "G-" {
		t.Errorf("merged mapping: %+v", m)
	}
	want := []AttributeMapping{{Claim: "upn", Attribute: "upn"}}
	for i := range m.Attributes {
		m.Attributes[i].Transform = Transform{}
	}
	if !reflect.DeepEqual(m.Attributes, want) {
		t.Errorf("attributes = %+v, want the preset's", m.Attributes)
	}
}

// Unknown keys stay an error inside a mapping block, presets or not.
func TestMappingUnknownKey(t *testing.T) {
	text := strings.Replace(minimalConfig(t), "mapping: {user_directory: CORP}",
		"mapping: {preset: okta, user_directory: CORP, group_claim: roles}", 1)
	if _, err := Parse([]byte(text)); err == nil ||
		!strings.Contains(err.Error(), "field group_claim not found") {
		t.Fatalf("err = %v", err)
	}
}
