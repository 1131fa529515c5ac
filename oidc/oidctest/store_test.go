package oidctest

import (
	"testing"
	"time"
)

func TestSweepRemovesExpiredEntries(t *testing.T) {
	var s store
	s.init()
	now := time.Unix(1700000000, 0)
	req := &authRequest{}
	s.addPending(req, now)
	code := s.addCode(req, &account{}, now)
	s.addToken(s.redeemCode(code, now), &accessGrant{expires: now.Add(time.Hour)}, now)

	// Within the sweep interval nothing is swept; after it, what expired is.
	s.addPending(req, now.Add(30*time.Second))
	if len(s.codes) != 1 {
		t.Fatalf("swept too early: %d codes", len(s.codes))
	}
	s.addPending(req, now.Add(11*time.Minute))
	if len(s.pending) != 1 || len(s.codes) != 0 || len(s.tokens) != 1 {
		t.Fatalf("after 11 minutes: %d pending, %d codes, %d tokens; want 1, 0, 1",
			len(s.pending), len(s.codes), len(s.tokens))
	}
	s.addPending(req, now.Add(2*time.Hour))
	if len(s.pending) != 1 || len(s.tokens) != 0 {
		t.Fatalf("after 2 hours: %d pending, %d tokens; want 1, 0",
			len(s.pending), len(s.tokens))
	}
}
