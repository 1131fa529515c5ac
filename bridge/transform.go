package bridge

import (
	"fmt"
	"regexp"
	"strings"
)

// Transform rewrites the values of one claim before they become attributes. The steps
// run in the order of the fields; the zero value passes every value through unchanged.
// Values are always de-duplicated afterwards, keeping the first of each in order.
type Transform struct {
	// Separator splits each text value at this string, e.g. ","; "" splits nothing. No
	// other parsing is ever guessed: "A,B" is one value and "[\"A\"]" is the literal text.
	Separator string `yaml:"separator"`
	// Trim removes white space around each value; a value left empty is dropped.
	Trim bool `yaml:"trim"`
	// LDAPCN replaces an LDAP distinguished name by the value of its first CN, with the
	// escapes of RFC 4514 decoded: "CN=Sales\, EMEA,OU=Groups,DC=corp" becomes
	// "Sales, EMEA". A value without "=" is kept as it is; any other value is dropped.
	LDAPCN bool `yaml:"ldap_cn"`
	// StripPrefix removes this text once from the start of each value, e.g. "/" for
	// Keycloak's group paths ("/test/lead" becomes "test/lead").
	StripPrefix string `yaml:"strip_prefix"`
	// Names renames values, compared exactly, e.g. Entra ID group object ids to names.
	Names map[string]string `yaml:"names"`
	// Unmapped says what happens to a value that Names lacks: "keep" (the default) or
	// "drop", which needs Names.
	Unmapped string `yaml:"unmapped"`
	// Include keeps only the values that match one of these patterns; empty keeps all.
	// A pattern is a glob matched against the whole value ("*" any text, "?" one
	// character, case-sensitive), or, after "re:", a Go regular expression that must
	// match the whole value ("re:(?i)^qlik-.*").
	Include []string `yaml:"include"`
	// Exclude drops the values that match one of these patterns, after Include.
	Exclude []string `yaml:"exclude"`

	include, exclude []*regexp.Regexp
}

// Values of Transform.Unmapped.
const (
	unmappedKeep = "keep"
	unmappedDrop = "drop"
)

// check validates t and compiles its patterns.
func (t *Transform) check(p *problems, at string) {
	switch t.Unmapped {
	case "":
		t.Unmapped = unmappedKeep
	case unmappedKeep:
	case unmappedDrop:
		if len(t.Names) == 0 {
			p.add(at+".unmapped", "drop needs names: the values it drops are those names lacks")
		}
	default:
		p.add(at+".unmapped", "must be keep or drop")
	}
	t.include = compilePatterns(p, at+".include", t.Include)
	t.exclude = compilePatterns(p, at+".exclude", t.Exclude)
}

func compilePatterns(p *problems, at string, patterns []string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for i, pat := range patterns {
		re, err := compilePattern(pat)
		if err != nil {
			p.add(fmt.Sprintf("%s[%d]", at, i), err.Error())
			continue
		}
		out = append(out, re)
	}
	return out
}

// compilePattern turns a glob, or a regular expression after "re:", into a regexp that
// must match a whole value.
func compilePattern(pat string) (*regexp.Regexp, error) {
	if pat == "" {
		return nil, fmt.Errorf("an empty pattern matches nothing; remove it")
	}
	if expr, ok := strings.CutPrefix(pat, "re:"); ok {
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%q is not a regular expression: %w", expr, err)
		}
		return re, nil
	}
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range pat {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.Compile(b.String())
}

// value is one attribute value on its way through a transform, with where it came from.
type value struct {
	text string
	from string // the text before Names renamed it, "" when unchanged
}

// apply runs the transform over vals and returns the values left, in order and without
// duplicates, and notes on what it dropped, for the log.
func (t *Transform) apply(vals []string) (out []value, notes []string) {
	vals = t.split(vals)
	var noDN, unmapped, filtered []string
	for _, v := range vals {
		if t.LDAPCN {
			cn, ok := ldapCN(v)
			if !ok {
				noDN = append(noDN, v)
				continue
			}
			v = cn
		}
		v = strings.TrimPrefix(v, t.StripPrefix)
		val := value{text: v}
		if name, ok := t.Names[v]; ok {
			val = value{text: name, from: v}
		} else if len(t.Names) > 0 && t.Unmapped == unmappedDrop {
			unmapped = append(unmapped, v)
			continue
		}
		if !t.keeps(val.text) {
			filtered = append(filtered, val.text)
			continue
		}
		if val.text != "" {
			out = append(out, val)
		}
	}
	notes = appendDropped(notes, "not a distinguished name with a CN", noDN)
	notes = appendDropped(notes, "not in names (unmapped: drop)", unmapped)
	notes = appendDropped(notes, "left out by include/exclude", filtered)
	return dedupeValues(out), notes
}

// split applies Separator and Trim, and drops the values left empty.
func (t *Transform) split(vals []string) []string {
	if t.Separator == "" && !t.Trim {
		return vals
	}
	var out []string
	for _, v := range vals {
		parts := []string{v}
		if t.Separator != "" {
			parts = strings.Split(v, t.Separator)
		}
		for _, part := range parts {
			if t.Trim {
				part = strings.TrimSpace(part)
			}
			if part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// keeps reports whether v passes Include and Exclude.
func (t *Transform) keeps(v string) bool {
	if len(t.include) > 0 && !matchAny(t.include, v) {
		return false
	}
	return !matchAny(t.exclude, v)
}

func matchAny(res []*regexp.Regexp, v string) bool {
	for _, re := range res {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// dedupeValues keeps the first of each text, in order.
func dedupeValues(vals []value) []value {
	return dedupeBy(vals, func(v value) string { return v.text })
}

// appendDropped adds a note naming up to ten dropped values.
func appendDropped(notes []string, why string, dropped []string) []string {
	if len(dropped) == 0 {
		return notes
	}
	return append(notes, fmt.Sprintf("%d value(s) %s: %s", len(dropped), why, listSome(dropped)))
}

// listSome quotes the first ten values of list and counts the rest.
func listSome(list []string) string {
	const most = 10
	var b strings.Builder
	for i, v := range list {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(list)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(fmt.Sprintf("%q", bounded(v, 80)))
	}
	return b.String()
}
