package qlik

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidIdentity is wrapped by the errors of Identity.Normalize.
var ErrInvalidIdentity = errors.New("qlik: invalid identity")

// Identity is the user a session or ticket is for. The zero value is refused by Normalize.
type Identity struct {
	// UserDirectory is the user's directory, e.g. the domain or the realm; required.
	UserDirectory string
	// UserID is the user's id within the directory; required.
	UserID string
	// Attributes are sent with the user; nil sends none.
	Attributes []Attribute
}

// Normalize returns the identity with UserDirectory and UserID trimmed of surrounding white
// space. It refuses a value that is empty, only white space, not valid UTF-8, or that contains a
// backslash or a control character: "DOMAIN\user" must be split before it gets here.
func (id Identity) Normalize() (Identity, error) {
	var err error
	if id.UserDirectory, err = normalizeName("UserDirectory", id.UserDirectory); err != nil {
		return Identity{}, err
	}
	if id.UserID, err = normalizeName("UserId", id.UserID); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func normalizeName(field, value string) (string, error) {
	v := strings.TrimSpace(value)
	switch {
	case v == "":
		return "", fmt.Errorf("%w: %s is empty or only white space", ErrInvalidIdentity, field)
	case !utf8.ValidString(v):
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidIdentity, field)
	case strings.Contains(v, `\`):
		return "", fmt.Errorf("%w: %s contains a backslash; split DOMAIN\\user into "+
			"UserDirectory and UserId", ErrInvalidIdentity, field)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%w: %s contains a control character", ErrInvalidIdentity, field)
	case strings.ContainsRune(v, utf8.RuneError):
		// A decoder puts U+FFFD where the text was invalid, so two different invalid
		// names would become one user.
		return "", fmt.Errorf("%w: %s contains invalid text (U+FFFD)", ErrInvalidIdentity, field)
	case strings.IndexFunc(v, invisible) >= 0:
		return "", fmt.Errorf("%w: %s contains an invisible or direction-changing character",
			ErrInvalidIdentity, field)
	}
	return v, nil
}

// invisible reports format characters (zero-width, direction overrides) and the line and
// paragraph separators: they make two user ids that look the same differ.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)
}

// Attribute is one entry of the QPS Attributes array, a single-key object such as
// {"Group":"Sales"}. Keys may repeat within the array and values may be empty. The zero value
// is the object {"":""}.
type Attribute struct {
	Key, Value string
}

// MarshalJSON encodes the attribute as a single-key object.
func (a Attribute) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	if err := enc.Encode(a.Key); err != nil {
		return nil, err
	}
	b.Truncate(b.Len() - 1) // the newline Encode adds
	b.WriteByte(':')
	if err := enc.Encode(a.Value); err != nil {
		return nil, err
	}
	b.Truncate(b.Len() - 1)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes a single-key object whose value is a string.
func (a *Attribute) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var toks [4]json.Token
	for i := range toks {
		tok, err := dec.Token()
		if err != nil {
			return errBadAttribute
		}
		toks[i] = tok
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadAttribute
	}
	key, okKey := toks[1].(string)
	value, okValue := toks[2].(string)
	if toks[0] != json.Delim('{') || !okKey || !okValue || toks[3] != json.Delim('}') {
		return errBadAttribute
	}
	*a = Attribute{Key: key, Value: value}
	return nil
}

var errBadAttribute = errors.New("qlik: an attribute must be an object with one string value")

// AttributesSize returns the number of bytes the attributes take as the JSON array that is
// sent to the QPS; nil counts as the empty array. The proxy forwards the attributes in a header
// of every request, so callers keep this well under the proxy's 16 KB header limit.
func AttributesSize(attrs []Attribute) int {
	n := 2 // []
	for i, a := range attrs {
		b, _ := a.MarshalJSON() // cannot fail: strings always encode
		n += len(b)
		if i > 0 {
			n++ // ,
		}
	}
	return n
}
