package bridge

import (
	"context"
	"errors"
	"sync"
	"time"
)

// SessionRecord is one Qlik session a login opened, as the session index keeps it.
type SessionRecord struct {
	SID           string    // the identity provider's session id (the ID token's sid), or ""
	Subject       string    // the ID token's sub
	Proxy         string    // the virtual proxy prefix
	SessionID     string    // the proxy session id in session mode; "" in ticket mode
	UserDirectory string    // the Qlik identity, for ending a user's sessions
	UserID        string    //
	Expires       time.Time // when the record may be forgotten
}

// SessionIndex remembers which Qlik sessions belong to which identity-provider session, so
// that a back-channel logout can end them. MemoryIndex serves one instance; several
// instances behind a load balancer need a shared implementation.
type SessionIndex interface {
	// Add records r.
	Add(ctx context.Context, r SessionRecord) error
	// Take removes and returns the records of IdP session sid or, when sid is "", every
	// record of subject.
	Take(ctx context.Context, sid, subject string) ([]SessionRecord, error)
}

// errIndexFull is returned by MemoryIndex.Add when it holds its maximum of records.
var errIndexFull = errors.New("bridge: session index full")

// MemoryIndex is a SessionIndex in this process's memory. The zero value is ready to use
// and holds at most 100,000 live records.
type MemoryIndex struct {
	mu      sync.Mutex
	records []SessionRecord
	Now     func() time.Time // nil means time.Now
}

const maxIndexRecords = 100_000

// Add implements SessionIndex.
func (m *MemoryIndex) Add(_ context.Context, r SessionRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.records) >= maxIndexRecords {
		m.sweep()
		if len(m.records) >= maxIndexRecords {
			return errIndexFull
		}
	}
	m.records = append(m.records, r)
	return nil
}

// Take implements SessionIndex.
func (m *MemoryIndex) Take(_ context.Context, sid, subject string) ([]SessionRecord, error) {
	if sid == "" && subject == "" {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	var taken []SessionRecord
	kept := m.records[:0]
	for _, r := range m.records {
		if sid != "" && r.SID == sid || sid == "" && r.Subject == subject {
			taken = append(taken, r)
			continue
		}
		kept = append(kept, r)
	}
	clear(m.records[len(kept):])
	m.records = kept
	return taken, nil
}

// sweep drops expired records; m.mu is held.
func (m *MemoryIndex) sweep() {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	kept := m.records[:0]
	for _, r := range m.records {
		if now.Before(r.Expires) {
			kept = append(kept, r)
		}
	}
	clear(m.records[len(kept):])
	m.records = kept
}
