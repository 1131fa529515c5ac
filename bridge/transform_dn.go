package bridge

import (
	"strings"
	"unicode/utf8"
)

// ldapCN returns the value of the CN in the first RDN of an LDAP distinguished name
// (RFC 4514), with its escapes decoded: "\," and the other special characters, and "\xx"
// hex pairs that together form UTF-8. A value without "=" is not a DN and is returned
// as it is. ok is false for a DN that is malformed or whose first RDN has no CN, and for
// a CN whose value is empty, starts with "#" (a BER encoding) or is not UTF-8.
func ldapCN(s string) (cn string, ok bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	rest := strings.TrimLeft(s, " ")
	for {
		typ, val, next, end, valid := nextAttribute(rest)
		if !valid {
			return "", false
		}
		if strings.EqualFold(typ, "CN") || typ == "2.5.4.3" {
			if val == "" || !utf8.ValidString(val) {
				return "", false
			}
			return val, true
		}
		if end { // the first RDN is over and had no CN
			return "", false
		}
		rest = next
	}
}

// nextAttribute reads "type=value" from the start of s. It returns the rest after the
// separator, and end when the separator closes the RDN (",", ";" or the end of s)
// rather than joining another attribute to it ("+").
func nextAttribute(s string) (typ, val, rest string, end, ok bool) {
	eq := strings.IndexByte(s, '=')
	if eq <= 0 {
		return "", "", "", false, false
	}
	typ = strings.TrimSpace(s[:eq])
	if !validAttributeType(typ) {
		return "", "", "", false, false
	}
	val, n, ok := unescapeValue(s[eq+1:])
	if !ok {
		return "", "", "", false, false
	}
	rest = s[eq+1+n:]
	if rest == "" {
		return typ, val, "", true, true
	}
	sep := rest[0]
	return typ, val, strings.TrimLeft(rest[1:], " "), sep != '+', true
}

// validAttributeType accepts a descriptor (a letter, then letters, digits and hyphens) or
// a numeric OID.
func validAttributeType(t string) bool {
	if t == "" {
		return false
	}
	digits := t[0] >= '0' && t[0] <= '9'
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case digits && (c >= '0' && c <= '9' || c == '.'):
		case !digits && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			i > 0 && (c >= '0' && c <= '9' || c == '-')):
		default:
			return false
		}
	}
	return true
}

// unescapeValue reads an attribute value up to an unescaped ",", ";" or "+", or the end of
// s, and returns it decoded with the number of bytes it took. Unescaped spaces at its end
// are dropped, as RFC 4514 requires them escaped. A "#" value (hex BER) is refused.
func unescapeValue(s string) (string, int, bool) {
	if strings.HasPrefix(s, "#") {
		return "", 0, false
	}
	var b []byte
	keep := 0 // length of b up to the last byte that is not an unescaped space
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ',' || c == ';' || c == '+':
			return string(b[:keep]), i, true
		case c == '"' || c == '<' || c == '>' || c == 0:
			return "", 0, false // must be escaped
		case c == '\\':
			d, n, ok := unescapeOne(s[i+1:])
			if !ok {
				return "", 0, false
			}
			b = append(b, d)
			keep = len(b)
			i += n
		default:
			b = append(b, c)
			if c != ' ' {
				keep = len(b)
			}
		}
	}
	return string(b[:keep]), i, true
}

// unescapeOne decodes what follows a backslash: a special character or a hex pair. It
// returns the byte and how many bytes it took.
func unescapeOne(s string) (byte, int, bool) {
	if s == "" {
		return 0, 0, false
	}
	if strings.IndexByte(`"+,;<>\ #=`, s[0]) >= 0 {
		return s[0], 1, true
	}
	if len(s) >= 2 {
		hi, ok1 := hexValue(s[0])
		lo, ok2 := hexValue(s[1])
		if ok1 && ok2 {
			return hi<<4 | lo, 2, true
		}
	}
	return 0, 0, false
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
