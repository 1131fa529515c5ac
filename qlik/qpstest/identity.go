package qpstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SecurityHeaderName is the header the proxy injects into every request it forwards.
const SecurityHeaderName = "X-Qlik-Security"

// SecurityHeaderSize returns the length in bytes of the X-Qlik-Security header line the
// simulator forwards for a session with these attributes, name and ": " included:
//
//	X-Qlik-Security: SecureRequest=true; Context=AppAccess; Group=Sales; email=;
//
// This follows the format in Qlik's documentation without extended security. A page fails
// when this size exceeds Config.MaxHeaderBytes, the way HTTP.sys refuses a header field longer
// than its MaxFieldLength (16 KB by default).
func SecurityHeaderSize(attrs []map[string]string) int {
	return len(SecurityHeaderName) + len(": ") + len(securityHeaderValue(attrs))
}

// securityHeaderValue builds the value of the X-Qlik-Security header.
func securityHeaderValue(attrs []map[string]string) string {
	var b strings.Builder
	b.WriteString("SecureRequest=true; Context=AppAccess;")
	for _, a := range attrs {
		for k, v := range a {
			fmt.Fprintf(&b, " %s=%s;", k, v)
		}
	}
	return b.String()
}

// badRequest is a 400 reply with a plain message meant for the module's developer.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// cleanName checks a UserDirectory or UserId: present, not only whitespace, no backslash.
// It returns the value with surrounding whitespace trimmed.
func cleanName(field, v string) (string, error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return "", badRequest(field + " is required and must not be only whitespace")
	}
	if strings.Contains(t, `\`) {
		return "", badRequest(field + ` must not contain a backslash (split DOMAIN\user)`)
	}
	return t, nil
}

// cleanIdentity checks a user and its attributes as POST session and POST ticket take them.
func cleanIdentity(dir, id string, rawAttrs json.RawMessage) (identity, error) {
	var u identity
	var err error
	if u.UserDirectory, err = cleanName("UserDirectory", dir); err != nil {
		return identity{}, err
	}
	if u.UserID, err = cleanName("UserId", id); err != nil {
		return identity{}, err
	}
	if u.Attributes, err = parseAttributes(rawAttrs); err != nil {
		return identity{}, err
	}
	return u, nil
}

// errAttributes describes the only shape of Attributes the proxy takes.
var errAttributes = badRequest(
	`Attributes must be an array of objects with exactly one key and a string value, ` +
		`like [{"Group":"Sales"},{"Group":"EMEA"}]`)

// parseAttributes reads Attributes token by token, so that an object with two keys, or a
// repeated key within one object, is refused rather than silently merged. Absent or null
// means no attributes. Keys may repeat across objects and values may be empty; an empty
// key is refused (the simulator's stricter choice: Qlik documents no rule).
func parseAttributes(raw json.RawMessage) ([]map[string]string, error) {
	attrs := []map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return attrs, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if !expectDelim(dec, '[') {
		return nil, errAttributes
	}
	for dec.More() {
		a, err := parseAttribute(dec)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	if !expectDelim(dec, ']') {
		return nil, errAttributes
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errAttributes
	}
	return attrs, nil
}

// parseAttribute reads one {"key":"value"} object.
func parseAttribute(dec *json.Decoder) (map[string]string, error) {
	if !expectDelim(dec, '{') {
		return nil, errAttributes
	}
	k, ok := nextString(dec)
	if !ok {
		return nil, errAttributes
	}
	v, ok := nextString(dec)
	if !ok || !expectDelim(dec, '}') {
		return nil, errAttributes
	}
	if k == "" {
		return nil, badRequest("an attribute key must not be empty")
	}
	return map[string]string{k: v}, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) bool {
	tok, err := dec.Token()
	return err == nil && tok == d
}

func nextString(dec *json.Decoder) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	s, ok := tok.(string)
	return s, ok
}
