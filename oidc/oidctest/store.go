package oidctest

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// Lifetimes of the provider's short-lived state.
const (
	loginTimeout  = 10 * time.Minute // a login form left open
	codeLifetime  = 60 * time.Second // an authorization code
	loginAttempts = 10               // wrong passwords before a login request is dropped
	sweepInterval = time.Minute
)

// authRequest is a validated authorization request.
type authRequest struct {
	client      *Client
	redirectURI string
	state       string
	nonce       string
	scopes      []string // granted scopes, openid first
	challenge   string   // the S256 code challenge
	loginHint   string   // prefills the username
}

// pendingLogin is an authorization request waiting for the login form,
// found by an opaque handle carried in the form.
type pendingLogin struct {
	req      *authRequest
	expires  time.Time
	attempts int
}

// authCode is an issued authorization code.
type authCode struct {
	req         *authRequest
	user        *account
	authTime    time.Time
	expires     time.Time
	redeemed    bool
	reused      bool   // used again: no access token from it stays valid
	accessToken string // issued on redemption
}

// accessGrant is what an access token stands for.
type accessGrant struct {
	user    *account
	scopes  []string
	expires time.Time
}

// store keeps the provider's state in memory, guarded by a mutex. Expired
// entries are swept at most once per sweepInterval, on writes.
type store struct {
	mu        sync.Mutex
	pending   map[string]*pendingLogin
	codes     map[string]*authCode
	tokens    map[string]*accessGrant
	lastSweep time.Time
}

func (s *store) init() {
	s.pending = make(map[string]*pendingLogin)
	s.codes = make(map[string]*authCode)
	s.tokens = make(map[string]*accessGrant)
}

// sweep removes expired entries. The caller holds s.mu.
func (s *store) sweep(now time.Time) {
	if d := now.Sub(s.lastSweep); d >= 0 && d < sweepInterval {
		return
	}
	s.lastSweep = now
	for k, v := range s.pending {
		if !now.Before(v.expires) {
			delete(s.pending, k)
		}
	}
	for k, v := range s.codes {
		if !now.Before(v.expires) {
			delete(s.codes, k)
		}
	}
	for k, v := range s.tokens {
		if !now.Before(v.expires) {
			delete(s.tokens, k)
		}
	}
}

// addPending stores req for the login form and returns its handle.
func (s *store) addPending(req *authRequest, now time.Time) string {
	handle := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.pending[handle] = &pendingLogin{req: req, expires: now.Add(loginTimeout)}
	return handle
}

// pendingRequest returns the live request behind handle, or nil.
func (s *store) pendingRequest(handle string, now time.Time) *authRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pending[handle]
	if pl == nil || !now.Before(pl.expires) {
		return nil
	}
	return pl.req
}

// takePending removes and returns the live request behind handle, or nil.
func (s *store) takePending(handle string, now time.Time) *authRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pending[handle]
	delete(s.pending, handle)
	if pl == nil || !now.Before(pl.expires) {
		return nil
	}
	return pl.req
}

// failPending counts a wrong password against handle and reports whether
// the request may still be tried again.
func (s *store) failPending(handle string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pending[handle]
	if pl == nil {
		return false
	}
	pl.attempts++
	if pl.attempts >= loginAttempts {
		delete(s.pending, handle)
		return false
	}
	return true
}

// addCode stores an authorization code for a signed-in user and returns it.
func (s *store) addCode(req *authRequest, user *account, now time.Time) string {
	code := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.codes[code] = &authCode{
		req:      req,
		user:     user,
		authTime: now,
		expires:  now.Add(codeLifetime),
	}
	return code
}

// redeemCode marks code as used and returns it. A code that is unknown,
// expired or used before yields nil; a second use also revokes the access
// token issued on the first.
func (s *store) redeemCode(code string, now time.Time) *authCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.codes[code]
	if c == nil || !now.Before(c.expires) {
		return nil
	}
	if c.redeemed {
		c.reused = true
		delete(s.tokens, c.accessToken)
		return nil
	}
	c.redeemed = true
	return c
}

// addToken issues an access token for the grant and ties it to the code
// it was redeemed from. If that code has been used again meanwhile, the
// token is returned but never valid.
func (s *store) addToken(c *authCode, g *accessGrant, now time.Time) string {
	token := randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	if !c.reused {
		s.tokens[token] = g
		c.accessToken = token
	}
	return token
}

// grant returns the live grant behind an access token, or nil.
func (s *store) grant(token string, now time.Time) *accessGrant {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.tokens[token]
	if g == nil || !now.Before(g.expires) {
		return nil
	}
	return g
}

// randomToken returns 256 random bits, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
