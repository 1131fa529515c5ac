package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// newRecorder starts a TLS server that only records whether anything reached it.
func newRecorder(t *testing.T, contacted *bool) string {
	var mu sync.Mutex
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*contacted = true
		mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s.URL
}
