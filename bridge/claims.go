package bridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Claims are the verified claim sets of one login, as the oidc package returns them:
// numbers are json.Number, objects map[string]any and arrays []any. A nil map is empty.
type Claims struct {
	// IDToken holds the ID token's claims; its sub is the login's subject.
	IDToken map[string]any
	// Userinfo holds the userinfo claims; nil when userinfo was not fetched.
	Userinfo map[string]any
	// AccessToken holds the claims of a JWT access token verified against the issuer's
	// keys; nil when the access token is not used.
	AccessToken map[string]any
}

// Claim sources, as named in a MapResult.
const (
	sourceIDToken     = "id_token"
	sourceUserinfo    = "userinfo"
	sourceAccessToken = "access_token"
)

// claimSet looks claims up across the sources of a login. The ID token comes first;
// userinfo and then the access token only add top-level claims the sources before them
// lack, never replacing or erasing one (not even a null), as oidc.MergeClaims does.
type claimSet []claimLayer

type claimLayer struct {
	source string
	claims map[string]any
}

// newClaimSet orders the sources of in. A userinfo or access token sub that differs from
// the ID token's refuses the login: those claims describe someone else.
func newClaimSet(in Claims) (claimSet, error) {
	sub, _ := in.IDToken["sub"].(string)
	if sub == "" {
		return nil, &refusal{Reason: "the identity provider did not say who you are",
			Rule: "claims (the ID token has no sub)"}
	}
	cs := claimSet{{sourceIDToken, in.IDToken}}
	more := []claimLayer{{sourceUserinfo, in.Userinfo}, {sourceAccessToken, in.AccessToken}}
	for _, l := range more {
		if l.claims == nil {
			continue
		}
		// Userinfo must carry the sub (OpenID Connect Core 5.3.2); a JWT access token may
		// leave it out, since the oidc package has checked that it was issued to this client.
		other, present := l.claims["sub"]
		if present && other != any(sub) || !present && l.source == sourceUserinfo {
			return nil, &refusal{
				Reason: "the identity provider's " + l.source + " answer is about another user",
				Rule:   "claims (" + l.source + " sub differs from the ID token's)",
			}
		}
		cs = append(cs, l)
	}
	return cs, nil
}

// top returns the top-level claim name from the first source that has it.
func (cs claimSet) top(name string) (v any, source string, present bool) {
	for _, l := range cs {
		if v, ok := l.claims[name]; ok {
			return v, l.source, true
		}
	}
	return nil, "", false
}

// found is the outcome of a claim lookup.
type found struct {
	value   any
	present bool
	source  string // the claim source it came from, when present
	note    string // why a JSON pointer found nothing, for the log
}

// lookup finds the claim name: a claim with exactly that name first, so that names like
// "cognito:groups" or "https://qlik.example.com/groups" always work; then, for a name
// that starts with "/", the JSON pointer (RFC 6901) into nested objects and arrays, e.g.
// "/resource_access/qlik.bridge/roles". A pointer that leads nowhere is absent, with a
// note that says where it stopped.
func (cs claimSet) lookup(name string) found {
	if v, src, ok := cs.top(name); ok || !strings.HasPrefix(name, "/") {
		return found{value: v, present: ok, source: src}
	}
	ptr, err := parsePointer(name)
	if err != nil {
		return found{note: err.Error()}
	}
	v, src, ok := cs.top(ptr[0])
	if !ok {
		return found{note: fmt.Sprintf("claim path %s found nothing: no claim %q", name, ptr[0])}
	}
	for i, tok := range ptr[1:] {
		next, ok := step(v, tok)
		if !ok {
			return found{note: fmt.Sprintf("claim path %s found nothing: %s has no %q",
				name, pointerString(ptr[:i+1]), tok)}
		}
		v = next
	}
	return found{value: v, present: true, source: src}
}

// step goes one level down: a key of an object or an index of an array.
func step(v any, tok string) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		next, ok := v[tok]
		return next, ok
	case []any:
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || i >= len(v) || strconv.Itoa(i) != tok {
			return nil, false
		}
		return v[i], true
	}
	return nil, false
}

// pointer is a parsed JSON pointer: its reference tokens, unescaped.
type pointer []string

var errPointerEscape = errors.New("a \"~\" must be followed by 0 (for ~) or 1 (for /)")

// parsePointer parses a JSON pointer that starts with "/", decoding ~1 to "/" and ~0 to "~".
func parsePointer(s string) (pointer, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("claim path %q must start with /", s)
	}
	raw := strings.Split(s[1:], "/")
	ptr := make(pointer, len(raw))
	for i, tok := range raw {
		var b strings.Builder
		for j := 0; j < len(tok); j++ {
			c := tok[j]
			if c != '~' {
				b.WriteByte(c)
				continue
			}
			if j+1 == len(tok) || tok[j+1] != '0' && tok[j+1] != '1' {
				return nil, fmt.Errorf("claim path %q: %w", s, errPointerEscape)
			}
			if tok[j+1] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
			j++
		}
		ptr[i] = b.String()
	}
	return ptr, nil
}

// pointerString writes ptr back as a JSON pointer.
func pointerString(ptr pointer) string {
	var b strings.Builder
	for _, tok := range ptr {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return b.String()
}

// knownObjects are claims that providers send as objects; naming one where text is
// expected is a configuration error that can be caught before any login.
var knownObjects = map[string]string{
	"realm_access":    "/realm_access/roles",
	"resource_access": "/resource_access/<client id>/roles",
	"address":         "/address/country",
	"_claim_names":    "",
	"_claim_sources":  "",
}

// checkClaimName reports what is wrong with a claim name in the configuration: a bad
// JSON pointer, or a name that is known to hold an object rather than text.
func checkClaimName(p *problems, at, name string) {
	if name == "" {
		return
	}
	path := pointer{name}
	if strings.HasPrefix(name, "/") {
		var err error
		if path, err = parsePointer(name); err != nil {
			p.add(at, err.Error())
			return
		}
	}
	hint, isObject := knownObjects[path[0]]
	if !isObject || len(path) > 2 || len(path) == 2 && path[0] != "resource_access" {
		return
	}
	msg := fmt.Sprintf("%q holds an object, not text or a list of text", name)
	if hint != "" {
		msg += "; name a list inside it with a JSON pointer, e.g. " + hint
	}
	p.add(at, msg)
}
