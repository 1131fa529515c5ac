package bridge

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// Mapping turns verified claims into a Qlik identity. Check fills the defaults; the zero
// value, checked, maps sub to the UserId and groups to Group attributes, and needs a
// UserDirectory.
//
// A claim is named by its exact name first ("cognito:groups",
// "https://qlik.example.com/groups"); a name that starts with "/" and is no claim is a
// JSON pointer (RFC 6901) into nested claims: "/resource_access/qlik.bridge/roles".
type Mapping struct {
	// Preset starts from a provider's usual claims: entra, okta, keycloak, adfs, google,
	// auth0 or dex. Each key set next to it replaces the preset's value of that key as a
	// whole. "" starts from the defaults.
	Preset string `yaml:"preset"`
	// UserDirectory is a fixed directory name; UserDirectoryClaim takes it from a claim.
	// One of them is required, except with SplitDomainUser.
	UserDirectory      string `yaml:"user_directory"`
	UserDirectoryClaim string `yaml:"user_directory_claim"`
	// UserIDClaim names the claim that becomes the UserId; "" means "sub".
	UserIDClaim string `yaml:"user_id_claim"`
	// SplitDomainUser reads the UserId claim as DOMAIN\user: the part before the first
	// backslash becomes the UserDirectory and the rest the UserId. A value without a
	// backslash gets UserDirectory, or is refused when that is empty.
	SplitDomainUser bool `yaml:"split_domain_user"`
	// GroupsClaim names the claim whose values become group attributes; "" means "groups".
	GroupsClaim string `yaml:"groups_claim"`
	// GroupAttribute is the attribute key of each group; "" means "Group".
	GroupAttribute string `yaml:"group_attribute"`
	// Groups transforms the group values; the zero value keeps them as they are.
	Groups Transform `yaml:"groups"`
	// Attributes maps further claims to attributes.
	Attributes []AttributeMapping `yaml:"attributes"`
	// MaxLength is the most characters a UserDirectory, UserId or attribute value may
	// have; a longer one refuses the login. Zero means 512.
	MaxLength int `yaml:"max_length"`
	// AttributesBudget is the most bytes the attributes may take as the JSON array sent
	// to the QPS; zero means 12288. The proxy forwards them in a header of every request
	// (16 KB at most by default), so a session over it would fail on the first page.
	AttributesBudget int `yaml:"attributes_budget"`
	// OverBudget says what happens to attributes over the budget: "refuse" (the default)
	// refuses the login; "truncate" drops group attributes from the end until they fit.
	OverBudget string `yaml:"over_budget"`

	set map[string]bool // the keys given in YAML; nil when built in Go
}

// AttributeMapping sends the values of Claim as attribute Attribute, after its Transform.
// Claim and Attribute are required; the zero Transform changes nothing.
type AttributeMapping struct {
	Claim     string `yaml:"claim"`
	Attribute string `yaml:"attribute"`
	// Required refuses the login when the claim has no value left after the transform.
	Required  bool `yaml:"required"`
	Transform `yaml:",inline"`
}

// Defaults and limits of a Mapping.
const (
	defaultMaxLength = 512
	defaultBudget    = 12 << 10
	maxBudget        = 64 << 10 // the largest header limit the proxy's host can be given
	overRefuse       = "refuse"
	overTruncate     = "truncate"
)

// UnmarshalYAML records which keys the YAML sets, so that a preset fills only the others.
// It decodes through the caller's decoder, which keeps unknown keys an error.
func (m *Mapping) UnmarshalYAML(unmarshal func(any) error) error {
	type mapping Mapping
	if err := unmarshal((*mapping)(m)); err != nil {
		return err
	}
	var keys map[string]any
	if err := unmarshal(&keys); err != nil {
		return err
	}
	m.set = make(map[string]bool, len(keys))
	for k := range keys {
		m.set[k] = true
	}
	return nil
}

func (m *Mapping) check(p *problems, at string) {
	m.applyPreset(p, at)
	switch {
	case m.UserDirectory != "" && m.UserDirectoryClaim != "":
		p.add(at+".user_directory", "set either user_directory (a fixed name) or "+
			"user_directory_claim, not both")
	case m.SplitDomainUser && m.UserDirectoryClaim != "":
		p.add(at+".split_domain_user", "takes the directory from the user id claim; remove "+
			"user_directory_claim (user_directory may name the directory of a user id "+
			"without a backslash)")
	case m.UserDirectory == "" && m.UserDirectoryClaim == "" && !m.SplitDomainUser:
		p.add(at+".user_directory", "required: set either user_directory (a fixed name) or "+
			"user_directory_claim, or split_domain_user for DOMAIN\\user ids")
	}
	if strings.ContainsRune(m.UserDirectory, '\\') {
		p.add(at+".user_directory", "must not contain a backslash")
	}
	m.UserIDClaim = orDefault(m.UserIDClaim, "sub")
	m.GroupsClaim = orDefault(m.GroupsClaim, "groups")
	m.GroupAttribute = orDefault(m.GroupAttribute, "Group")
	checkClaimName(p, at+".user_directory_claim", m.UserDirectoryClaim)
	checkClaimName(p, at+".user_id_claim", m.UserIDClaim)
	checkClaimName(p, at+".groups_claim", m.GroupsClaim)
	checkAttributeKey(p, at+".group_attribute", m.GroupAttribute)
	m.Groups.check(p, at+".groups")
	for i := range m.Attributes {
		a := &m.Attributes[i]
		aat := fmt.Sprintf("%s.attributes[%d]", at, i)
		if a.Claim == "" || a.Attribute == "" {
			p.add(aat, "needs both claim and attribute")
		}
		checkClaimName(p, aat+".claim", a.Claim)
		checkAttributeKey(p, aat+".attribute", a.Attribute)
		a.Transform.check(p, aat)
	}
	m.checkLimits(p, at)
}

func (m *Mapping) checkLimits(p *problems, at string) {
	if m.MaxLength == 0 {
		m.MaxLength = defaultMaxLength
	}
	if m.MaxLength < 1 {
		p.add(at+".max_length", "must be at least 1")
	}
	if m.AttributesBudget == 0 {
		m.AttributesBudget = defaultBudget
	}
	if m.AttributesBudget < 2 || m.AttributesBudget > maxBudget {
		p.add(at+".attributes_budget", fmt.Sprintf("must be between 2 and %d bytes; keep it "+
			"well under the proxy's header limit (16384 bytes unless raised on its host)",
			maxBudget))
	}
	switch m.OverBudget {
	case "":
		m.OverBudget = overRefuse
	case overRefuse, overTruncate:
	default:
		p.add(at+".over_budget", "must be refuse or truncate")
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Refusal is a login the bridge will not complete for reasons of the user's identity or
// rights. Reason is shown to the user after "your identity provider signed you in, but";
// Rule tells the log which setting refused. The zero value refuses for no stated reason.
type Refusal struct {
	Reason string
	Rule   string
}

func (r *Refusal) Error() string { return "bridge: login refused by " + r.Rule + ": " + r.Reason }

// refusal is the name the server's handlers use for Refusal.
type refusal = Refusal

// sentAttribute is an attribute with where it came from.
type sentAttribute struct {
	qlik.Attribute
	source string
}

// identity maps the claims in cs to the Qlik identity that m describes, recording
// sources and notes in res.
func (m *Mapping) identity(cs claimSet, res *MapResult) ([]sentAttribute, error) {
	if err := m.user(cs, res); err != nil {
		return nil, err
	}
	specs := append([]AttributeMapping{{Claim: m.GroupsClaim, Attribute: m.GroupAttribute,
		Transform: m.Groups}}, m.Attributes...)
	var attrs []sentAttribute
	for i, spec := range specs {
		setting := "mapping.groups_claim"
		if i > 0 {
			setting = fmt.Sprintf("mapping.attributes[%d]", i-1)
		}
		more, err := m.attribute(cs, spec, setting, res)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, more...)
	}
	return dedupeAttributes(attrs), nil
}

// user sets the UserDirectory and UserId of res.Identity.
func (m *Mapping) user(cs claimSet, res *MapResult) error {
	id, src := &res.Identity, &res.Sources
	uid, from, err := m.single(cs, m.UserIDClaim, "UserId", res)
	if err != nil {
		return err
	}
	id.UserID, src.UserID = uid, from
	id.UserDirectory, src.UserDirectory = m.UserDirectory, "config user_directory"
	switch {
	case m.UserDirectoryClaim != "":
		if id.UserDirectory, src.UserDirectory, err = m.single(cs, m.UserDirectoryClaim,
			"UserDirectory", res); err != nil {
			return err
		}
	case m.SplitDomainUser:
		if err := m.split(res); err != nil {
			return err
		}
	}

	normal, err := res.Identity.Normalize()
	if err != nil {
		return &refusal{Reason: "your identity cannot be used in Qlik: " + err.Error(),
			Rule: "qlik identity rules"}
	}
	id.UserDirectory, id.UserID = normal.UserDirectory, normal.UserID
	for _, f := range []struct{ what, v string }{
		{"UserDirectory", id.UserDirectory}, {"UserId", id.UserID}} {
		if strings.ContainsRune(f.v, ';') {
			return &refusal{Reason: "your Qlik " + f.what + " would contain a \";\", which " +
				"Qlik's proxy uses to separate fields", Rule: "qlik identity rules (;)"}
		}
		if err := m.checkLength("your Qlik "+f.what, f.v); err != nil {
			return err
		}
	}
	return nil
}

// split turns the UserId DOMAIN\user into the UserDirectory DOMAIN and the UserId user.
func (m *Mapping) split(res *MapResult) error {
	id, src := &res.Identity, &res.Sources
	domain, user, ok := strings.Cut(id.UserID, `\`)
	if !ok {
		if m.UserDirectory == "" {
			return &refusal{
				Reason: fmt.Sprintf("your user name from the claim %q has no DOMAIN\\ part "+
					"to take the Qlik user directory from", m.UserIDClaim),
				Rule: "mapping.split_domain_user",
			}
		}
		return nil
	}
	if strings.TrimSpace(domain) == "" {
		return &refusal{
			Reason: fmt.Sprintf("your user name from the claim %q has an empty domain "+
				"before the backslash", m.UserIDClaim),
			Rule: "mapping.split_domain_user",
		}
	}
	id.UserDirectory, id.UserID = domain, user
	src.UserDirectory = src.UserID + ` (before the \)`
	src.UserID += ` (after the \)`
	return nil
}

// attribute returns the attributes that spec makes of the claims.
func (m *Mapping) attribute(cs claimSet, spec AttributeMapping, setting string,
	res *MapResult) ([]sentAttribute, error) {
	f := cs.lookup(spec.Claim)
	if f.note != "" {
		res.Notes = append(res.Notes, f.note)
	}
	if !f.present {
		if err := checkDistributed(cs, spec.Claim, setting, spec.Claim == m.GroupsClaim); err != nil {
			return nil, err
		}
	}
	vals, err := claimStrings(f.value, spec.Claim)
	if err != nil {
		return nil, err
	}
	out, notes := spec.Transform.apply(vals)
	out, notes = headerSafe(out, notes)
	for _, n := range notes {
		res.Notes = append(res.Notes, fmt.Sprintf("claim %q: %s", spec.Claim, n))
	}
	if len(out) == 0 && spec.Required {
		return nil, &refusal{
			Reason: fmt.Sprintf("your identity provider did not send %q, which Qlik needs",
				spec.Claim),
			Rule: setting + " (required)",
		}
	}
	attrs := make([]sentAttribute, 0, len(out))
	for _, v := range out {
		if err := m.checkLength("a value of the claim "+quoteName(spec.Claim), v.text); err != nil {
			return nil, err
		}
		source := f.source + " " + quoteName(spec.Claim)
		if v.from != "" {
			source += fmt.Sprintf(" (named from %q)", v.from)
		}
		attrs = append(attrs, sentAttribute{qlik.Attribute{Key: spec.Attribute, Value: v.text},
			source})
	}
	return attrs, nil
}

// headerSafe drops values with a ";" or a control character. The proxy forwards the
// attributes in a header as "key=value;" pairs, where such a value could read as another
// attribute or end the header.
func headerSafe(vals []value, notes []string) ([]value, []string) {
	var unsafe []string
	out := vals[:0]
	for _, v := range vals {
		if strings.ContainsRune(v.text, ';') || strings.IndexFunc(v.text, unicode.IsControl) >= 0 {
			unsafe = append(unsafe, v.text)
			continue
		}
		out = append(out, v)
	}
	return out, appendDropped(notes, `with a ";" or a control character`, unsafe)
}

// checkAttributeKey reports an attribute name that Qlik's header could not carry.
func checkAttributeKey(p *problems, at, key string) {
	if key != "" && strings.IndexFunc(key, func(r rune) bool {
		return r == ';' || r == '=' || unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		p.add(at, fmt.Sprintf("%q: an attribute name must not contain \";\", \"=\" or white "+
			"space", key))
	}
}

// single returns the one string value of claim name, used as the Qlik field what, and
// its source.
func (m *Mapping) single(cs claimSet, name, what string, res *MapResult) (string, string, error) {
	f := cs.lookup(name)
	if f.note != "" {
		res.Notes = append(res.Notes, f.note)
	}
	vals, err := claimStrings(f.value, name)
	switch {
	case err != nil:
		return "", "", err
	case len(vals) == 0:
		return "", "", &refusal{
			Reason: fmt.Sprintf("it sent no value in the claim %q that becomes your Qlik %s",
				name, what),
			Rule: "mapping (" + what + ")",
		}
	case len(vals) > 1:
		return "", "", &refusal{
			Reason: fmt.Sprintf("the claim %q has %d values; Qlik's %s needs one",
				name, len(vals), what),
			Rule: "mapping (" + what + ")",
		}
	}
	return vals[0], f.source + " " + quoteName(name), nil
}

// checkLength refuses a value longer than MaxLength characters.
func (m *Mapping) checkLength(what, v string) error {
	if n := utf8.RuneCountInString(v); n > m.MaxLength {
		return &refusal{
			Reason: fmt.Sprintf("%s is %d characters long, more than the %d this site "+
				"allows", what, n, m.MaxLength),
			Rule: "mapping.max_length",
		}
	}
	return nil
}

// claimStrings reads a claim's value as a list of strings. A string is one element; a
// list keeps its strings; nulls and empty strings are dropped; anything else refuses the
// login, naming the claim and the element, rather than guessing. An object is a
// configuration error: the mapping names the wrong claim.
func claimStrings(v any, name string) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		vals := make([]string, 0, len(v))
		for i, e := range v {
			switch e := e.(type) {
			case nil:
			case string:
				if strings.TrimSpace(e) != "" {
					vals = append(vals, e)
				}
			default:
				return nil, &refusal{
					Reason: fmt.Sprintf("the claim %q has an element (#%d, %s) that is not "+
						"text; ask your identity provider's administrator to send strings",
						name, i, jsonKind(e)),
					Rule: "mapping (claim " + name + ")",
				}
			}
		}
		return vals, nil
	case map[string]any:
		return nil, &refusal{
			Reason: fmt.Sprintf("the sign-in service is set up to read %q, which holds an "+
				"object, not text (a configuration error for your Qlik administrator)", name),
			Rule: "mapping configuration (claim " + name + " is an object; name a list " +
				"inside it with a JSON pointer)",
		}
	default:
		return nil, &refusal{
			Reason: fmt.Sprintf("the claim %q is %s, not text or a list of text",
				name, jsonKind(v)),
			Rule: "mapping (claim " + name + ")",
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return "a number"
	}
}

func quoteName(name string) string { return fmt.Sprintf("%q", name) }

// dedupeAttributes removes repeated attributes (same key and value), keeping the first.
func dedupeAttributes(attrs []sentAttribute) []sentAttribute {
	return dedupeBy(attrs, func(a sentAttribute) qlik.Attribute { return a.Attribute })
}

// dedupeBy keeps the first element of each key, in order, reusing s's array.
func dedupeBy[T any, K comparable](s []T, key func(T) K) []T {
	seen := make(map[K]bool, len(s))
	out := s[:0]
	for _, e := range s {
		if k := key(e); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// needsUserinfo reports whether a claim that m maps is missing from the ID token's claims.
func needsUserinfo(m *Mapping, idToken map[string]any) bool {
	names := []string{m.UserIDClaim, m.GroupsClaim, m.UserDirectoryClaim}
	for _, a := range m.Attributes {
		names = append(names, a.Claim)
	}
	cs := claimSet{{sourceIDToken, idToken}}
	for _, n := range names {
		if n != "" && !cs.lookup(n).present {
			return true
		}
	}
	return false
}
