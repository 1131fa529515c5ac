package bridge

import (
	"fmt"
	"strings"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// Mapping turns verified claims into a Qlik identity.
type Mapping struct {
	// UserDirectory is a fixed directory name; UserDirectoryClaim takes it from a claim.
	// Exactly one of them is required.
	UserDirectory      string `yaml:"user_directory"`
	UserDirectoryClaim string `yaml:"user_directory_claim"`
	// UserIDClaim names the claim that becomes the UserId; "" means "sub".
	UserIDClaim string `yaml:"user_id_claim"`
	// GroupsClaim names the claim whose values become group attributes; "" means "groups".
	GroupsClaim string `yaml:"groups_claim"`
	// GroupAttribute is the attribute key of each group; "" means "Group".
	GroupAttribute string `yaml:"group_attribute"`
	// Attributes maps further claims to attributes.
	Attributes []AttributeMapping `yaml:"attributes"`
}

// AttributeMapping sends a claim's values as attribute Attribute.
type AttributeMapping struct {
	Claim     string `yaml:"claim"`
	Attribute string `yaml:"attribute"`
	// Required refuses the login when the claim is absent or empty.
	Required bool `yaml:"required"`
}

func (m *Mapping) check(p *problems, at string) {
	if (m.UserDirectory == "") == (m.UserDirectoryClaim == "") {
		p.add(at+".user_directory", "set either user_directory (a fixed name) or "+
			"user_directory_claim, not both")
	}
	if strings.ContainsRune(m.UserDirectory, '\\') {
		p.add(at+".user_directory", "must not contain a backslash")
	}
	if m.UserIDClaim == "" {
		m.UserIDClaim = "sub"
	}
	if m.GroupsClaim == "" {
		m.GroupsClaim = "groups"
	}
	if m.GroupAttribute == "" {
		m.GroupAttribute = "Group"
	}
	for i, a := range m.Attributes {
		if a.Claim == "" || a.Attribute == "" {
			p.add(fmt.Sprintf("%s.attributes[%d]", at, i), "needs both claim and attribute")
		}
	}
}

// refusal is a login the bridge will not complete for reasons of the user's identity or
// rights. Reason is shown to the user; Rule tells the log which setting refused.
type refusal struct {
	Reason string
	Rule   string
}

func (r *refusal) Error() string { return "bridge: login refused by " + r.Rule + ": " + r.Reason }

// mapIdentity turns verified claims into the Qlik identity that m describes.
func mapIdentity(m *Mapping, claims map[string]any) (qlik.Identity, error) {
	var id qlik.Identity
	var err error
	id.UserDirectory = m.UserDirectory
	if m.UserDirectoryClaim != "" {
		if id.UserDirectory, err = singleClaim(claims, m.UserDirectoryClaim, "UserDirectory"); err != nil {
			return id, err
		}
	}
	if id.UserID, err = singleClaim(claims, m.UserIDClaim, "UserId"); err != nil {
		return id, err
	}

	groups, _, err := claimStrings(claims, m.GroupsClaim)
	if err != nil {
		return id, err
	}
	for _, g := range dedupe(groups) {
		id.Attributes = append(id.Attributes, qlik.Attribute{Key: m.GroupAttribute, Value: g})
	}
	for _, am := range m.Attributes {
		vals, _, err := claimStrings(claims, am.Claim)
		if err != nil {
			return id, err
		}
		if len(vals) == 0 && am.Required {
			return id, &refusal{
				Reason: fmt.Sprintf("your identity provider did not send %q, which Qlik needs",
					am.Claim),
				Rule: "mapping.attributes (required)",
			}
		}
		for _, v := range vals {
			id.Attributes = append(id.Attributes, qlik.Attribute{Key: am.Attribute, Value: v})
		}
	}

	id, err = id.Normalize()
	if err != nil {
		return id, &refusal{Reason: "your identity cannot be used in Qlik: " + err.Error(),
			Rule: "qlik identity rules"}
	}
	return id, nil
}

// singleClaim returns the one string value of claim name, used as the Qlik field what.
func singleClaim(claims map[string]any, name, what string) (string, error) {
	vals, present, err := claimStrings(claims, name)
	switch {
	case err != nil:
		return "", err
	case !present || len(vals) == 0:
		return "", &refusal{
			Reason: fmt.Sprintf("your identity provider did not send the claim %q that "+
				"becomes your Qlik %s", name, what),
			Rule: "mapping (" + what + ")",
		}
	case len(vals) > 1:
		return "", &refusal{
			Reason: fmt.Sprintf("the claim %q has %d values; Qlik's %s needs one",
				name, len(vals), what),
			Rule: "mapping (" + what + ")",
		}
	}
	return vals[0], nil
}

// claimStrings reads a claim as a list of strings. A string is one element; a list keeps
// its strings; nulls and empty strings are dropped; anything else refuses the login, naming
// the claim and the element, rather than guessing.
func claimStrings(claims map[string]any, name string) (vals []string, present bool, err error) {
	v, present := claims[name]
	switch v := v.(type) {
	case nil:
		return nil, present, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return nil, true, nil
		}
		return []string{v}, true, nil
	case []any:
		vals = make([]string, 0, len(v))
		for i, e := range v {
			switch e := e.(type) {
			case nil:
			case string:
				if strings.TrimSpace(e) != "" {
					vals = append(vals, e)
				}
			default:
				return nil, true, &refusal{
					Reason: fmt.Sprintf("the claim %q has an element (#%d, a %s) that is not "+
						"text; ask your identity provider's administrator to send strings",
						name, i, jsonKind(e)),
					Rule: "mapping (claim " + name + ")",
				}
			}
		}
		return vals, true, nil
	default:
		return nil, true, &refusal{
			Reason: fmt.Sprintf("the claim %q is a %s, not text or a list of text",
				name, jsonKind(v)),
			Rule: "mapping (claim " + name + ")",
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "list"
	default:
		return "number"
	}
}

// dedupe removes repeated values, keeping the first of each in order.
func dedupe(vals []string) []string {
	if len(vals) < 2 {
		return vals
	}
	out := vals[:0:0]
	for i, v := range vals {
		seen := false
		for _, w := range vals[:i] {
			if w == v {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, v)
		}
	}
	return out
}

// needsUserinfo reports whether a claim that m maps is missing from the ID token's claims.
func needsUserinfo(m *Mapping, claims map[string]any) bool {
	names := []string{m.UserIDClaim, m.GroupsClaim, m.UserDirectoryClaim}
	for _, a := range m.Attributes {
		names = append(names, a.Claim)
	}
	for _, n := range names {
		if _, ok := claims[n]; n != "" && !ok {
			return true
		}
	}
	return false
}
