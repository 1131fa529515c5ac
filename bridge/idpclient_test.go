package bridge

import (
	"net/http"
	"net/url"
	"testing"
)

// Calls to the identity provider go through the HTTP proxy of the environment (calls to
// Qlik never do: see the qlik package's tests).
func TestIdPClientUsesTheEnvironmentsProxy(t *testing.T) {
	c, err := idpClient(&OIDCConfig{Timeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr := c.Transport.(*http.Transport)
	if tr.Proxy == nil {
		t.Fatal("no proxy function")
	}
	// http.ProxyFromEnvironment reads the environment once per process, so compare the
	// function's answer with the same source rather than setting variables here.
	req := &http.Request{URL: &url.URL{Scheme: "https", Host: "idp.example.com"}}
	got, err1 := tr.Proxy(req)
	want, err2 := http.ProxyFromEnvironment(req)
	if (got == nil) != (want == nil) || err1 != nil || err2 != nil ||
		got != nil && got.String() != want.String() {
		t.Errorf("proxy %v, want the environment's %v", got, want)
	}
}
