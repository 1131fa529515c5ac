package bridge

import (
	"sync"
	"time"
)

// maxUsedIDs bounds the used-id set. Only a completed sign-in adds an id, so only a flood
// of real logins reaches it; then some ids that have not expired are dropped, and their
// codes could be redeemed again, still only with the command's code verifier.
const maxUsedIDs = 100_000

// usedIDs remembers the codes and handles already redeemed, until they expire, so that
// each is redeemed once. It lives in this instance's memory: a code replayed at another
// instance within its short life still needs the command's code verifier.
type usedIDs struct {
	mu        sync.Mutex
	now       func() time.Time
	ids       map[string]time.Time // id to expiry
	lastSweep time.Time
}

func newUsedIDs(now func() time.Time) *usedIDs {
	return &usedIDs{now: now, ids: make(map[string]time.Time)}
}

// seen reports whether id was taken.
func (u *usedIDs) seen(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.ids[id]
	return ok
}

// take marks id as used until expires and reports whether it was unused.
func (u *usedIDs) take(id string, expires time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.ids[id]; ok {
		return false
	}
	u.sweep()
	u.ids[id] = expires
	return true
}

// sweep drops expired ids, at most once a minute unless the set is full. The caller holds
// u.mu.
func (u *usedIDs) sweep() {
	now := u.now()
	if len(u.ids) < maxUsedIDs && now.Sub(u.lastSweep) < time.Minute {
		return
	}
	u.lastSweep = now
	for id, exp := range u.ids {
		if now.After(exp) {
			delete(u.ids, id)
		}
	}
	for id := range u.ids {
		if len(u.ids) < maxUsedIDs {
			break
		}
		delete(u.ids, id)
	}
}
