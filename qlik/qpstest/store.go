package qpstest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// TicketLifetime is how long a ticket can be redeemed after POST ticket issued it: a ticket
// is valid while less than this has passed, and refused from this moment on.
const TicketLifetime = time.Minute

// Session is a proxy session as the simulator holds it. The zero value is not a session.
type Session struct {
	ID            string              // the session id, the value of the session cookie
	Prefix        string              // the virtual proxy the session belongs to
	UserDirectory string              // trimmed, as stored
	UserID        string              // trimmed, as stored
	Attributes    []map[string]string // in the order received; each map has one key
	Created       time.Time           // when POST session or a ticket created it
	LastSeen      time.Time           // the last page served for it; Created until then
	Admitted      bool                // whether a page was served for it (the session limit)
}

// Request is one call to the REST API, as recorded for assertions.
type Request struct {
	Method       string
	Path         string // the escaped path, without the query
	QueryXrfkey  string // the first xrfkey query value; "" when absent
	HeaderXrfkey string // the first X-Qlik-Xrfkey header value; "" when absent
	Status       int    // the status code the simulator replied with
}

// ModuleError is a message an authentication module posted to POST /qps/error.
type ModuleError struct {
	UserDirectory string
	UserID        string
	Message       string
	Time          time.Time
}

// errSessionIDInUse reports a POST session whose SessionId another live session holds.
var errSessionIDInUse = errors.New("qpstest: session id already in use")

// identity is the user a session or ticket is for.
type identity struct {
	UserDirectory string
	UserID        string
	Attributes    []map[string]string
}

// userKey compares users as Qlik's repository does: without regard to case.
type userKey struct{ dir, id string }

func keyOf(dir, id string) userKey {
	return userKey{strings.ToLower(dir), strings.ToLower(id)}
}

// ticket is an issued, not yet redeemed ticket.
type ticket struct {
	prefix string
	user   identity
	issued time.Time
}

// target is a page a browser asked for before it was sent to the module.
type target struct {
	prefix string
	uri    string
}

// admission is the outcome of a browser's visit with a session cookie.
type admission int

const (
	admitNoSession admission = iota // no live session of this virtual proxy has that id
	admitTooMany                    // the user already holds the maximum of admitted sessions
	admitOK                         // the session may see the page
)

// store holds the mutable state of one simulated proxy node. It is safe for concurrent use.
type store struct {
	now        func() time.Time
	timeouts   map[string]time.Duration // per virtual proxy prefix
	maxPerUser int

	mu        sync.Mutex
	sessions  map[string]*Session
	tickets   map[string]ticket
	targets   map[string]target
	requests  []Request
	errs      []ModuleError
	lastSweep time.Time
}

// maxRequests bounds the REST call log; beyond it the oldest calls are dropped, so that a
// long benchmark does not hold every call in memory.
const maxRequests = 100000

func newStore(now func() time.Time, timeouts map[string]time.Duration, maxPerUser int) *store {
	return &store{
		now:        now,
		timeouts:   timeouts,
		maxPerUser: maxPerUser,
		sessions:   map[string]*Session{},
		tickets:    map[string]ticket{},
		targets:    map[string]target{},
	}
}

// liveLocked reports whether the session has been idle for less than its virtual proxy's
// timeout. A session idle for exactly the timeout has ended.
func (st *store) liveLocked(s *Session, now time.Time) bool {
	return now.Before(s.LastSeen.Add(st.timeouts[s.Prefix]))
}

// liveSessionLocked returns the live session with that id, if it belongs to the prefix.
func (st *store) liveSessionLocked(prefix, id string, now time.Time) (*Session, bool) {
	s, ok := st.sessions[id]
	if !ok || s.Prefix != prefix || !st.liveLocked(s, now) {
		return nil, false
	}
	return s, true
}

// sweepLocked forgets ended sessions and expired tickets, at most once a second of clock
// time; every lookup checks liveness itself, so this only frees memory.
func (st *store) sweepLocked(now time.Time) {
	if now.Before(st.lastSweep.Add(time.Second)) && !now.Before(st.lastSweep) {
		return
	}
	st.lastSweep = now
	for id, s := range st.sessions {
		if !st.liveLocked(s, now) {
			delete(st.sessions, id)
		}
	}
	for t, tk := range st.tickets {
		if !now.Before(tk.issued.Add(TicketLifetime)) {
			delete(st.tickets, t)
		}
	}
}

// copySession returns a deep copy, so that callers cannot change the store.
func copySession(s *Session) Session {
	c := *s
	c.Attributes = copyAttributes(s.Attributes)
	return c
}

func copyAttributes(attrs []map[string]string) []map[string]string {
	out := make([]map[string]string, 0, len(attrs))
	for _, a := range attrs {
		m := make(map[string]string, len(a))
		for k, v := range a {
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}

// sortSessions orders sessions by creation, then id, so that replies are stable.
func sortSessions(list []Session) {
	slices.SortFunc(list, func(a, b Session) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// selectLocked returns copies of the live sessions for which keep is true.
func (st *store) selectLocked(now time.Time, keep func(*Session) bool) []Session {
	out := []Session{}
	for _, s := range st.sessions {
		if st.liveLocked(s, now) && keep(s) {
			out = append(out, copySession(s))
		}
	}
	sortSessions(out)
	return out
}

// hasUserLocked reports whether the user holds any live session on the node.
func (st *store) hasUserLocked(k userKey, now time.Time) bool {
	for _, s := range st.sessions {
		if st.liveLocked(s, now) && keyOf(s.UserDirectory, s.UserID) == k {
			return true
		}
	}
	return false
}

// addSession adds a session with the id the module chose. newUser reports whether the user
// held no other live session on the node. A live session with the same id, on any virtual
// proxy, makes it fail with errSessionIDInUse.
func (st *store) addSession(prefix, id string, u identity) (s Session, newUser bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	if old, ok := st.sessions[id]; ok && st.liveLocked(old, now) {
		return Session{}, false, errSessionIDInUse
	}
	newUser = !st.hasUserLocked(keyOf(u.UserDirectory, u.UserID), now)
	rec := &Session{
		ID:            id,
		Prefix:        prefix,
		UserDirectory: u.UserDirectory,
		UserID:        u.UserID,
		Attributes:    copyAttributes(u.Attributes),
		Created:       now,
		LastSeen:      now,
	}
	st.sessions[id] = rec
	return copySession(rec), newUser, nil
}

// session returns the live session with that id if it belongs to the virtual proxy.
func (st *store) session(prefix, id string) (Session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	s, ok := st.liveSessionLocked(prefix, id, now)
	if !ok {
		return Session{}, false
	}
	return copySession(s), true
}

// proxySessions returns the live sessions of one virtual proxy.
func (st *store) proxySessions(prefix string) []Session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	return st.selectLocked(now, func(s *Session) bool { return s.Prefix == prefix })
}

// deleteSession removes the session if it belongs to the virtual proxy. last reports whether
// the user holds no other live session on the node afterwards.
func (st *store) deleteSession(prefix, id string) (s Session, last, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	rec, ok := st.liveSessionLocked(prefix, id, now)
	if !ok {
		return Session{}, false, false
	}
	delete(st.sessions, id)
	last = !st.hasUserLocked(keyOf(rec.UserDirectory, rec.UserID), now)
	return copySession(rec), last, true
}

// userSessions returns the user's live sessions on one virtual proxy.
func (st *store) userSessions(prefix, dir, id string) []Session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	k := keyOf(dir, id)
	return st.selectLocked(now, func(s *Session) bool {
		return s.Prefix == prefix && keyOf(s.UserDirectory, s.UserID) == k
	})
}

// deleteUser removes the user's sessions on one virtual proxy and returns them.
func (st *store) deleteUser(prefix, dir, id string) []Session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	k := keyOf(dir, id)
	removed := st.selectLocked(now, func(s *Session) bool {
		return s.Prefix == prefix && keyOf(s.UserDirectory, s.UserID) == k
	})
	for _, s := range removed {
		delete(st.sessions, s.ID)
	}
	return removed
}

// all returns every live session on the node.
func (st *store) all() []Session {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	return st.selectLocked(now, func(*Session) bool { return true })
}

// addTicket records a ticket for the user at one virtual proxy.
func (st *store) addTicket(prefix, t string, u identity) {
	st.mu.Lock()
	defer st.mu.Unlock()
	u.Attributes = copyAttributes(u.Attributes)
	st.tickets[t] = ticket{prefix: prefix, user: u, issued: st.now()}
}

// redeemTicket consumes the ticket: it is gone after the first attempt, whatever the outcome.
// It succeeds only at the virtual proxy that issued it, within TicketLifetime.
func (st *store) redeemTicket(prefix, t string) (identity, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	tk, ok := st.tickets[t]
	delete(st.tickets, t)
	if !ok || tk.prefix != prefix || !now.Before(tk.issued.Add(TicketLifetime)) {
		return identity{}, false
	}
	return tk.user, true
}

// addTarget records the page a browser asked for under a new target id. Target ids do not
// expire (how long Qlik keeps them is unknown); takeTarget consumes them.
func (st *store) addTarget(prefix, id, uri string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.targets[id] = target{prefix: prefix, uri: uri}
}

// takeTarget consumes a target id of the virtual proxy and returns the page it stands for.
func (st *store) takeTarget(prefix, id string) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	t, ok := st.targets[id]
	if !ok || t.prefix != prefix {
		return "", false
	}
	delete(st.targets, id)
	return t.uri, true
}

// admit decides whether the session may see a page. A session is admitted at its first
// page, unless its user already holds maxPerUser admitted live sessions on the node, counted
// across all virtual proxies; a refused session stays unadmitted.
func (st *store) admit(prefix, id string) (Session, admission) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	rec, ok := st.liveSessionLocked(prefix, id, now)
	if !ok {
		return Session{}, admitNoSession
	}
	if !rec.Admitted {
		if st.admittedLocked(keyOf(rec.UserDirectory, rec.UserID), now) >= st.maxPerUser {
			return copySession(rec), admitTooMany
		}
		rec.Admitted = true
	}
	return copySession(rec), admitOK
}

// admittedLocked counts the user's admitted live sessions.
func (st *store) admittedLocked(k userKey, now time.Time) int {
	n := 0
	for _, s := range st.sessions {
		if s.Admitted && st.liveLocked(s, now) && keyOf(s.UserDirectory, s.UserID) == k {
			n++
		}
	}
	return n
}

// touch marks the session as active now.
func (st *store) touch(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s, ok := st.sessions[id]; ok {
		s.LastSeen = st.now()
	}
}

// record appends a REST call to the log.
func (st *store) record(r Request) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.requests) >= maxRequests {
		st.requests = slices.Delete(st.requests, 0, len(st.requests)-maxRequests+1)
	}
	st.requests = append(st.requests, r)
}

// recorded returns a copy of the REST call log.
func (st *store) recorded() []Request {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.requests)
}

// addModuleError keeps a message posted by a module.
func (st *store) addModuleError(e ModuleError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	e.Time = st.now()
	st.errs = append(st.errs, e)
}

// moduleErrors returns a copy of the messages posted by modules.
func (st *store) moduleErrors() []ModuleError {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.errs)
}
