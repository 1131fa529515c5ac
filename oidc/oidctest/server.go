package oidctest

import (
	"fmt"
	"net/http/httptest"
	"testing"
)

// StartServer starts an httptest TLS server running a provider whose
// issuer is the server's URL; cfg.Issuer is ignored. The caller closes the
// server. Trust its certificate with the server's Client method.
func StartServer(cfg Config) (*Provider, *httptest.Server, error) {
	srv := httptest.NewUnstartedServer(nil)
	// The listener exists before the server starts, so the issuer is
	// known and the handler is in place before the first request.
	cfg.Issuer = "https://" + srv.Listener.Addr().String()
	p, err := New(cfg)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	srv.Config.Handler = p
	srv.StartTLS()
	if srv.URL != cfg.Issuer {
		srv.Close()
		return nil, nil, fmt.Errorf("oidctest: server URL %s is not the issuer %s",
			srv.URL, cfg.Issuer)
	}
	return p, srv, nil
}

// NewServer is StartServer for tests: it fails t on an error and closes
// the server when the test ends.
func NewServer(t testing.TB, cfg Config) (*Provider, *httptest.Server) {
	t.Helper()
	p, srv, err := StartServer(cfg)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	t.Cleanup(srv.Close)
	return p, srv
}
