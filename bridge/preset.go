package bridge

import (
	"bytes"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// presets are starting mappings for the providers whose claims the bridge knows. Each is
// a mapping block as an administrator would write it, so the README can show it as is.
// None sets the UserDirectory: that is the site's choice.
var presets = map[string]string{
	// Entra ID: preferred_username is the sign-in name; groups are object ids until
	// names maps them (or the app registration emits names for synced groups).
	"entra": `
user_id_claim: preferred_username
groups_claim: groups
attributes:
  - {claim: email, attribute: email}
  - {claim: name, attribute: name}
`,
	// Okta: groups need a groups claim on the authorization server; a thin ID token
	// leaves them to userinfo, which the bridge fetches when they are missing.
	"okta": `
user_id_claim: preferred_username
groups_claim: groups
attributes:
  - {claim: email, attribute: email}
  - {claim: name, attribute: name}
`,
	// Keycloak: the group mapper sends full paths ("/test/lead") unless told otherwise.
	"keycloak": `
user_id_claim: preferred_username
groups_claim: groups
groups: {strip_prefix: /}
attributes:
  - {claim: email, attribute: email}
  - {claim: name, attribute: name}
`,
	// ADFS: unique_name is DOMAIN\user; groups as distinguished names become their CN.
	"adfs": `
user_id_claim: unique_name
split_domain_user: true
groups_claim: group
groups: {ldap_cn: true}
attributes:
  - {claim: upn, attribute: upn}
`,
	// Google: the verified email is the user; Google sends no groups.
	"google": `
user_id_claim: email
attributes:
  - {claim: name, attribute: name}
  - {claim: hd, attribute: hd}
`,
	// Auth0: the verified email is the user; groups or roles come from an Action, under
	// a namespaced claim such as https://qlik.example.com/groups (set groups_claim).
	"auth0": `
user_id_claim: email
attributes:
  - {claim: name, attribute: name}
`,
	// Dex: the verified email is the user; groups need the "groups" scope.
	"dex": `
user_id_claim: email
groups_claim: groups
attributes:
  - {claim: name, attribute: name}
`,
}

// presetNames lists the presets, sorted, for messages.
func presetNames() string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// loadPreset decodes the named preset as strictly as a configuration file.
func loadPreset(name string) (*Mapping, error) {
	var m Mapping
	dec := yaml.NewDecoder(bytes.NewReader([]byte(presets[name])))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// applyPreset fills the keys of m that its YAML left out from the preset it names. A
// key that is set replaces the preset's value as a whole.
func (m *Mapping) applyPreset(p *problems, at string) {
	if m.Preset == "" {
		return
	}
	if _, ok := presets[m.Preset]; !ok {
		p.add(at+".preset", "must be one of "+presetNames())
		return
	}
	preset, err := loadPreset(m.Preset)
	if err != nil {
		p.add(at+".preset", err.Error()) // cannot happen: the presets are tested
		return
	}
	dst, src := reflect.ValueOf(m).Elem(), reflect.ValueOf(preset).Elem()
	for i := 0; i < dst.NumField(); i++ {
		key, _, _ := strings.Cut(dst.Type().Field(i).Tag.Get("yaml"), ",")
		if key == "" || !preset.set[key] || m.isSet(key, dst.Field(i)) {
			continue
		}
		dst.Field(i).Set(src.Field(i))
	}
}

// isSet reports whether the key was given: in the YAML, or, for a Mapping built in Go,
// by a value that is not zero.
func (m *Mapping) isSet(key string, field reflect.Value) bool {
	if m.set != nil {
		return m.set[key]
	}
	return !field.IsZero()
}
