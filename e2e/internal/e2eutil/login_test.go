package e2eutil

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeProvider imitates the provider's login pages: /auth redirects to a form, a right
// password redirects twice inside the provider and then to the client.
func fakeProvider(t *testing.T, clientURL string) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			http.Redirect(w, r, clientURL+"?error=invalid_request", http.StatusSeeOther)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "_interaction", Value: "i1", Path: "/interaction/i1"})
		http.Redirect(w, r, "/interaction/i1", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /interaction/i1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<form method="post" action="/interaction/i1/login?a=1&amp;b=2">`)
	})
	mux.HandleFunc("POST /interaction/i1/login", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("_interaction"); err != nil || c.Value != "i1" {
			http.Error(w, "no interaction cookie", http.StatusBadRequest)
			return
		}
		if r.URL.RawQuery != "a=1&b=2" {
			http.Error(w, "form action not unescaped", http.StatusBadRequest)
			return
		}
		if r.PostFormValue("username") != "alice" || r.PostFormValue("password") != "pw" {
			fmt.Fprint(w, `<p id="error">Invalid username or password.</p>`)
			return
		}
		http.Redirect(w, r, "/resume", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /resume", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, clientURL+"?code=c1&state=s1", http.StatusSeeOther)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestLoginWithForm(t *testing.T) {
	// The client is never contacted: LoginWithForm stops at the redirect to it.
	const clientURL = "http://127.0.0.1:1/callback"
	op := fakeProvider(t, clientURL)
	tests := []struct {
		name     string
		query    string
		password string
		want     string // the returned URL, or "error: " and a part of the error
	}{
		{"signed in", "", "pw", clientURL + "?code=c1&state=s1"},
		{"wrong password", "", "nope", "error: Invalid username or password."},
		{"refused before the form", "?fail=1", "", clientURL + "?error=invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoginWithForm(op.Client(), op.URL+"/auth"+tt.query, "alice", tt.password)
			if want, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("LoginWithForm = %v, %v; want an error with %q", got, err, want)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Errorf("LoginWithForm = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestLoginWithFormLeavesClientUnchanged(t *testing.T) {
	op := fakeProvider(t, "http://127.0.0.1:1/callback")
	c := op.Client()
	if _, err := LoginWithForm(c, op.URL+"/auth", "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	if c.Jar != nil || c.CheckRedirect != nil {
		t.Error("LoginWithForm changed the client's jar or redirect policy")
	}
}
