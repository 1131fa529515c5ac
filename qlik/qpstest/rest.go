package qpstest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// XrfkeyFailure is the body of the 403 the proxy sends when the Xrfkey check fails.
const XrfkeyFailure = "XSRF prevention check failed. Possible XSRF discovered."

// maxBodyBytes bounds the JSON body of a REST call.
const maxBodyBytes = 1 << 20

// Calls at node level take no virtual proxy prefix (/qps/alive, /qps/error); calls at proxy
// level take one, or none for the default virtual proxy (/qps/session, /qps/bi/session).
var (
	nodeCalls  = map[string]bool{"alive": true, "error": true}
	proxyCalls = map[string]bool{"session": true, "user": true, "ticket": true}
)

// RESTHandler returns the REST API's handler for in-process use. It performs NO TLS checks:
// whoever can reach it is trusted, as only a client with a certificate of the site's CA is
// over the listener at RESTURL. Every call is recorded for Requests.
func (s *Server) RESTHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.serveREST(rec, r)
		s.st.record(Request{
			Method:       r.Method,
			Path:         r.URL.EscapedPath(),
			QueryXrfkey:  r.URL.Query().Get("xrfkey"),
			HeaderXrfkey: r.Header.Get("X-Qlik-Xrfkey"),
			Status:       rec.status,
		})
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// serveREST checks the Xrfkey, then the path, then dispatches the call.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	if !xrfkeyOK(r) {
		plain(w, http.StatusForbidden, XrfkeyFailure)
		return
	}
	c, status := s.route(r.URL.EscapedPath())
	if status != 0 {
		plain(w, status, http.StatusText(status))
		return
	}
	s.dispatch(w, r, c)
}

// xrfkeyOK reports whether the call carries one xrfkey query value and one X-Qlik-Xrfkey
// header, identical (case-sensitive) and 16 characters of [0-9a-zA-Z]. The query name must
// be exactly "xrfkey": the simulator's stricter reading where Qlik documents nothing.
func xrfkeyOK(r *http.Request) bool {
	q := r.URL.Query()["xrfkey"]
	h := r.Header.Values("X-Qlik-Xrfkey")
	return len(q) == 1 && len(h) == 1 && q[0] == h[0] && validXrfkey(q[0])
}

func validXrfkey(k string) bool {
	if len(k) != 16 {
		return false
	}
	for _, c := range []byte(k) {
		if !isAlnum(c) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// call is a REST call's virtual proxy prefix and its path segments after the prefix.
type call struct {
	prefix string
	segs   []string
}

// route splits /qps/[<prefix>/]<call>... into the prefix and the call's segments. A status
// other than zero refuses the call: 400 for a prefix with capitals, 404 for an unknown
// prefix or path. alive and error exist only at node level, as in Qlik's API description;
// /qps/<prefix>/alive is 404.
func (s *Server) route(escaped string) (call, int) {
	rest, ok := strings.CutPrefix(escaped, "/qps/")
	if !ok {
		return call{}, http.StatusNotFound
	}
	segs, ok := unescapeSegments(rest)
	if !ok {
		return call{}, http.StatusNotFound
	}
	var c call
	switch {
	case nodeCalls[segs[0]]:
		return call{segs: segs}, 0
	case proxyCalls[segs[0]]:
		c = call{segs: segs}
	default:
		c = call{prefix: segs[0], segs: segs[1:]}
		if strings.ToLower(c.prefix) != c.prefix {
			return call{}, http.StatusBadRequest
		}
	}
	if s.proxies[c.prefix] == nil || len(c.segs) == 0 || !proxyCalls[c.segs[0]] {
		return call{}, http.StatusNotFound
	}
	return c, 0
}

// unescapeSegments splits an escaped path; an empty or malformed segment fails.
func unescapeSegments(escaped string) ([]string, bool) {
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil || u == "" {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// dispatch runs one call; a known path with the wrong method is 405.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, c call) {
	type handler func(http.ResponseWriter, *http.Request, call)
	var methods map[string]handler
	n, name := len(c.segs), c.segs[0]
	switch {
	case n == 1 && name == "alive":
		methods = map[string]handler{http.MethodGet: s.getAlive}
	case n == 1 && name == "error":
		methods = map[string]handler{http.MethodPost: s.postError}
	case n == 1 && name == "session":
		methods = map[string]handler{http.MethodGet: s.getSessions, http.MethodPost: s.postSession}
	case n == 2 && name == "session":
		methods = map[string]handler{
			http.MethodGet: s.getSession, http.MethodDelete: s.deleteSession,
		}
	case n == 3 && name == "user":
		methods = map[string]handler{http.MethodGet: s.getUser, http.MethodDelete: s.deleteUser}
	case n == 1 && name == "ticket":
		methods = map[string]handler{http.MethodPost: s.postTicket}
	default:
		plain(w, http.StatusNotFound, http.StatusText(http.StatusNotFound))
		return
	}
	h, ok := methods[r.Method]
	if !ok {
		w.Header().Set("Allow", allowed(methods))
		plain(w, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
		return
	}
	h(w, r, c)
}

func allowed[V any](methods map[string]V) string {
	var list []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if _, ok := methods[m]; ok {
			list = append(list, m)
		}
	}
	return strings.Join(list, ", ")
}

// sessionReply is a session as the REST API returns it. Here and below, field names are
// the wire names, PascalCase as in the proxy's replies.
type sessionReply struct {
	UserDirectory string
	UserId        string
	Attributes    []map[string]string
	SessionId     string
}

func replyOf(s Session) sessionReply {
	return sessionReply{s.UserDirectory, s.UserID, s.Attributes, s.ID}
}

func repliesOf(list []Session) []sessionReply {
	out := make([]sessionReply, 0, len(list))
	for _, s := range list {
		out = append(out, replyOf(s))
	}
	return out
}

// sessionRequest is the body of POST session. UserName is in Qlik's API description; the
// simulator accepts it and ignores it.
type sessionRequest struct {
	UserDirectory string
	UserId        string
	UserName      string
	Attributes    json.RawMessage
	SessionId     string
}

// postSession adds a session with the module's id: 201 with the session and NewUser, true
// when the user held no other live session on the node.
// A SessionId a live session already holds is 409: what Qlik does is unknown, and the
// simulator refuses rather than overwrite or share.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request, c call) {
	var in sessionRequest
	if err := decodeBody(r, &in); err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := cleanIdentity(in.UserDirectory, in.UserId, in.Attributes)
	if err == nil {
		err = checkSessionID(in.SessionId)
	}
	if err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	sess, newUser, err := s.st.addSession(c.prefix, in.SessionId, u)
	if err != nil {
		plain(w, http.StatusConflict, "SessionId is already in use")
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		sessionReply
		NewUser bool
	}{replyOf(sess), newUser})
}

// checkSessionID requires a SessionId that can be a cookie value unchanged (RFC 6265
// cookie-octets, so no whitespace, quotes, commas, semicolons or backslashes).
func checkSessionID(id string) error {
	if id == "" {
		return badRequest("SessionId is required")
	}
	for _, c := range []byte(id) {
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return badRequest("SessionId must consist of cookie-safe ASCII characters")
		}
	}
	return nil
}

// getSessions lists the virtual proxy's sessions.
func (s *Server) getSessions(w http.ResponseWriter, _ *http.Request, c call) {
	writeJSON(w, http.StatusOK, repliesOf(s.st.proxySessions(c.prefix)))
}

// getSession returns the session, or null with 200 for an id this virtual proxy does not hold.
func (s *Server) getSession(w http.ResponseWriter, _ *http.Request, c call) {
	sess, ok := s.st.session(c.prefix, c.segs[1])
	if !ok {
		writeJSON(w, http.StatusOK, nil)
		return
	}
	writeJSON(w, http.StatusOK, replyOf(sess))
}

// deleteSession ends a session: 200 with {Session, LastSessionForUser}. An unknown id is 404:
// Qlik's answer is unknown, and the stricter one makes a module cope with both.
func (s *Server) deleteSession(w http.ResponseWriter, _ *http.Request, c call) {
	sess, last, ok := s.st.deleteSession(c.prefix, c.segs[1])
	if !ok {
		plain(w, http.StatusNotFound, "no such session")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Session            sessionReply
		LastSessionForUser bool
	}{replyOf(sess), last})
}

// getUser lists the user's sessions on this virtual proxy.
func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, c call) {
	writeJSON(w, http.StatusOK, repliesOf(s.st.userSessions(c.prefix, c.segs[1], c.segs[2])))
}

// deleteUser ends the user's sessions on this virtual proxy and lists them.
func (s *Server) deleteUser(w http.ResponseWriter, _ *http.Request, c call) {
	writeJSON(w, http.StatusOK, repliesOf(s.st.deleteUser(c.prefix, c.segs[1], c.segs[2])))
}

// ticketRequest is the body of POST ticket.
type ticketRequest struct {
	UserDirectory string
	UserId        string
	UserName      string
	Attributes    json.RawMessage
	TargetId      string
}

// ticketReply is the reply to POST ticket. TargetUri is present only when the TargetId was
// one this virtual proxy issued and had not yet resolved: the simulator resolves a target id
// once (Qlik's behaviour on reuse is unknown). TargetId echoes the request's, and is absent
// when the request had none.
type ticketReply struct {
	UserDirectory string
	UserId        string
	Attributes    []map[string]string
	Ticket        string
	TargetUri     string `json:",omitempty"`
	TargetId      string `json:",omitempty"`
}

// postTicket issues a single-use ticket, valid for TicketLifetime at this virtual proxy.
func (s *Server) postTicket(w http.ResponseWriter, r *http.Request, c call) {
	var in ticketRequest
	if err := decodeBody(r, &in); err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := cleanIdentity(in.UserDirectory, in.UserId, in.Attributes)
	if err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	t := randomAlnum(16)
	s.st.addTicket(c.prefix, t, u)
	reply := ticketReply{
		UserDirectory: u.UserDirectory,
		UserId:        u.UserID,
		Attributes:    u.Attributes,
		Ticket:        t,
		TargetId:      in.TargetId,
	}
	if in.TargetId != "" {
		reply.TargetUri, _ = s.st.takeTarget(c.prefix, in.TargetId)
	}
	writeJSON(w, http.StatusCreated, reply)
}

// getAlive answers the node's health check.
func (s *Server) getAlive(w http.ResponseWriter, _ *http.Request, c call) {
	writeJSON(w, http.StatusOK, true)
}

// errorRequest is the body of POST /qps/error.
type errorRequest struct {
	UserDirectory string
	UserId        string
	Message       string
}

// postError keeps a module's message for ModuleErrors; Message is required.
func (s *Server) postError(w http.ResponseWriter, r *http.Request, c call) {
	var in errorRequest
	if err := decodeBody(r, &in); err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(in.Message) == "" {
		plain(w, http.StatusBadRequest, "Message is required")
		return
	}
	s.st.addModuleError(ModuleError{
		UserDirectory: in.UserDirectory,
		UserID:        in.UserId,
		Message:       in.Message,
	})
	w.WriteHeader(http.StatusNoContent)
}

// decodeBody reads one JSON object into v. Field names match without regard to case, as
// the proxy's do. Stricter than Qlik is known to be: the content type must be
// application/json, and unknown fields and trailing data are refused.
func decodeBody(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return badRequest("the body must be JSON with Content-Type application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body is not the expected JSON object: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("the body has data after the JSON object")
	}
	return nil
}

// writeJSON writes v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		plain(w, http.StatusInternalServerError, "qpstest: encode reply")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// plain writes a plain-text reply.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

// randomAlnum returns n characters of [0-9A-Za-z] from crypto/rand, without modulo bias.
func randomAlnum(n int) string {
	const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf) // never fails, per crypto/rand
		for _, b := range buf {
			if int(b) < 4*len(chars) && len(out) < n { // 248: a multiple of 62
				out = append(out, chars[int(b)%len(chars)])
			}
		}
	}
	return string(out)
}
