package bridge

import (
	"net/url"
	"strings"
)

// maxTargetLen bounds a target URL; Qlik deep links are far shorter.
const maxTargetLen = 4096

// targetPolicy decides which URLs a login may end on: absolute http(s) URLs whose origin is a
// configured virtual proxy's or explicitly allowed. Everything else falls back to the
// virtual proxy's landing URL, so the bridge is never an open redirect.
type targetPolicy struct {
	origins map[string]bool // "https://qs.example.com", "http://qlik.localhost:9080"
}

func newTargetPolicy(cfg *QlikConfig) *targetPolicy {
	p := &targetPolicy{origins: map[string]bool{}}
	for _, vp := range cfg.VirtualProxies {
		if vp.public != nil {
			p.origins[origin(vp.public)] = true
		}
	}
	for _, o := range cfg.AllowedTargetOrigins {
		if u, err := url.Parse(o); err == nil {
			p.origins[origin(u)] = true
		}
	}
	return p
}

// allowed returns the target as a URL when the policy admits it.
func (p *targetPolicy) allowed(raw string) (*url.URL, bool) {
	if raw == "" || len(raw) > maxTargetLen || hasUnsafeByte(raw) {
		return nil, false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" ||
		(u.Scheme != "https" && u.Scheme != "http") ||
		hasControlByte(u.Path) || strings.HasPrefix(u.Path, "//") {
		return nil, false
	}
	if !p.origins[origin(u)] {
		return nil, false
	}
	u.Host = strings.ToLower(u.Host)
	u.RawQuery = withoutTicket(u.RawQuery)
	return u, true
}

// withoutTicket drops every qlikTicket parameter from a raw query, keeping the others as
// they are. A target must never carry a ticket of its own: one planted in a login link
// would log the user in as someone else.
func withoutTicket(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && strings.EqualFold(n, "qlikTicket") {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}

// hasUnsafeByte reports control characters, spaces and backslashes, which browsers
// treat in ways that have turned same-origin checks into open redirects.
func hasUnsafeByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return true
		}
	}
	return false
}

// hasControlByte reports control characters and backslashes in a decoded path.
func hasControlByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f || c == '\\' {
			return true
		}
	}
	return false
}

// origin returns scheme://host[:port], lowercase, without the scheme's default port.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// withTicket appends qlikTicket to target with ? or & as the URL needs, before any fragment.
func withTicket(target, ticket string) string {
	base, frag, hasFrag := strings.Cut(target, "#")
	if path, query, ok := strings.Cut(base, "?"); ok {
		base = path + "?" + withoutTicket(query)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	out := base + sep + "qlikTicket=" + url.QueryEscape(ticket)
	if hasFrag {
		out += "#" + frag
	}
	return out
}
