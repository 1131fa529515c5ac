package qlik

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// seen is what the test QPS saw of one request.
type seen struct {
	method, path, query, key, contentType, body string
}

// recorder is a QPS handler that records every request and gives one answer.
type recorder struct {
	status int
	reply  string

	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{
		method:      r.Method,
		path:        strings.SplitN(r.RequestURI, "?", 2)[0],
		query:       r.URL.RawQuery,
		key:         r.Header.Get("X-Qlik-Xrfkey"),
		contentType: r.Header.Get("Content-Type"),
		body:        strings.TrimSpace(string(body)),
	})
	rec.mu.Unlock()
	w.WriteHeader(rec.status)
	io.WriteString(w, rec.reply)
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

// checkXrfkey checks that the key in the query and in the header are one valid key.
func checkXrfkey(t *testing.T, r seen) {
	t.Helper()
	if r.query != "xrfkey="+r.key {
		t.Errorf("query %q, header X-Qlik-Xrfkey %q: want xrfkey=<header>", r.query, r.key)
	}
	if !validXrfkey(r.key) {
		t.Errorf("xrfkey %q: want 16 characters of [0-9A-Za-z]", r.key)
	}
}

var alice = Identity{UserDirectory: "CORP", UserID: "alice", Attributes: []Attribute{
	{"Group", "Sales"}, {"Group", "EMEA"}, {"email", ""},
}}

const aliceSession = `{"UserDirectory":"CORP","UserId":"alice",` +
	`"Attributes":[{"Group":"Sales"}],"SessionId":"s-1","NewUser":true}`

var aliceSessionValue = Session{UserDirectory: "CORP", UserID: "alice",
	Attributes: []Attribute{{"Group", "Sales"}}, SessionID: "s-1", NewUser: true}

func TestCalls(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		reply  string
		call   func(*Node) (any, error)
		method string
		path   string // as sent, escaped
		body   string // JSON sent, "" for none
		want   any
	}{{
		name: "AddSession", status: 201, reply: aliceSession,
		call:   func(n *Node) (any, error) { return n.AddSession(ctx, "bi", alice, "s-1") },
		method: "POST", path: "/qps/bi/session",
		body: `{"UserDirectory":"CORP","UserId":"alice","Attributes":[{"Group":"Sales"},` +
			`{"Group":"EMEA"},{"email":""}],"SessionId":"s-1"}`,
		want: &aliceSessionValue,
	}, {
		name: "AddSession trims and sends empty attributes", status: 201, reply: `{}`,
		call: func(n *Node) (any, error) {
			return n.AddSession(ctx, "", Identity{UserDirectory: " CORP", UserID: "  alice  "}, "s-2")
		},
		method: "POST", path: "/qps/session",
		body: `{"UserDirectory":"CORP","UserId":"alice","Attributes":[],"SessionId":"s-2"}`,
		want: &Session{},
	}, {
		name: "RequestTicket with target", status: 201,
		reply: `{"UserDirectory":"CORP","UserId":"alice","Attributes":[],"Ticket":"t-1",` +
			`"TargetUri":"https://qs.example.com/bi/hub","TargetId":"f0a9"}`,
		call:   func(n *Node) (any, error) { return n.RequestTicket(ctx, "bi", alice, "f0a9") },
		method: "POST", path: "/qps/bi/ticket",
		body: `{"UserDirectory":"CORP","UserId":"alice","Attributes":[{"Group":"Sales"},` +
			`{"Group":"EMEA"},{"email":""}],"TargetId":"f0a9"}`,
		want: &Ticket{UserDirectory: "CORP", UserID: "alice", Attributes: []Attribute{},
			Ticket: "t-1", TargetURI: "https://qs.example.com/bi/hub", TargetID: "f0a9"},
	}, {
		name: "RequestTicket without target", status: 201, reply: `{"ticket":"t-2"}`,
		call: func(n *Node) (any, error) {
			return n.RequestTicket(ctx, "bi", Identity{UserDirectory: "CORP", UserID: "bob"}, "")
		},
		method: "POST", path: "/qps/bi/ticket",
		body: `{"UserDirectory":"CORP","UserId":"bob","Attributes":[]}`,
		want: &Ticket{Ticket: "t-2"},
	}, {
		name: "GetSession escapes the id", status: 200, reply: aliceSession,
		call:   func(n *Node) (any, error) { return n.GetSession(ctx, "bi", "a b/c") },
		method: "GET", path: "/qps/bi/session/a%20b%2Fc",
		want: &aliceSessionValue,
	}, {
		name: "GetSession null", status: 200, reply: `null`,
		call:   func(n *Node) (any, error) { return n.GetSession(ctx, "bi", "s-9") },
		method: "GET", path: "/qps/bi/session/s-9",
		want: (*Session)(nil),
	}, {
		name: "GetSession 404", status: 404, reply: `Not found`,
		call:   func(n *Node) (any, error) { return n.GetSession(ctx, "", "s-9") },
		method: "GET", path: "/qps/session/s-9",
		want: (*Session)(nil),
	}, {
		name: "DeleteSession", status: 200,
		reply: `{"Session":` + aliceSession + `,"LastSessionForUser":true}`,
		call: func(n *Node) (any, error) {
			return nil, n.DeleteSession(ctx, "bi", "s-1")
		},
		method: "DELETE", path: "/qps/bi/session/s-1",
	}, {
		name: "UserSessions escapes the ids", status: 200, reply: `[` + aliceSession + `]`,
		call: func(n *Node) (any, error) {
			return n.UserSessions(ctx, "bi", "CORP EU", "zoë.ångström")
		},
		method: "GET", path: "/qps/bi/user/CORP%20EU/zo%C3%AB.%C3%A5ngstr%C3%B6m",
		want: []Session{aliceSessionValue},
	}, {
		name: "DeleteUserSessions", status: 200, reply: `[` + aliceSession + `]`,
		call: func(n *Node) (any, error) {
			return n.DeleteUserSessions(ctx, "bi", "CORP", "alice")
		},
		method: "DELETE", path: "/qps/bi/user/CORP/alice",
		want: []Session{aliceSessionValue},
	}, {
		name: "Alive", status: 200, reply: `true`,
		call:   func(n *Node) (any, error) { return nil, n.Alive(ctx, "") },
		method: "GET", path: "/qps/alive",
	}, {
		name: "LogError", status: 204,
		call: func(n *Node) (any, error) {
			return nil, n.LogError(ctx, "CORP", "alice", "login refused: <no groups>")
		},
		method: "POST", path: "/qps/error",
		body: `{"UserDirectory":"CORP","UserId":"alice","Message":"login refused: <no groups>"}`,
	}, {
		name: "LogError without user", status: 204,
		call:   func(n *Node) (any, error) { return nil, n.LogError(ctx, "", "", "boom") },
		method: "POST", path: "/qps/error",
		body: `{"Message":"boom"}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{status: tc.status, reply: tc.reply}
			n, _ := newSite(t).node(t, rec)
			got, err := tc.call(n)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != tc.method || r.path != tc.path {
				t.Errorf("sent %s %s, want %s %s", r.method, r.path, tc.method, tc.path)
			}
			if r.body != tc.body {
				t.Errorf("sent body\n%s\nwant\n%s", r.body, tc.body)
			}
			if r.contentType != "application/json" {
				t.Errorf("Content-Type %q", r.contentType)
			}
			checkXrfkey(t, r)
		})
	}
}

func TestXrfkeyFreshPerCall(t *testing.T) {
	rec := &recorder{status: 200, reply: "true"}
	n, _ := newSite(t).node(t, rec)
	for range 5 {
		if err := n.Alive(context.Background(), "bi"); err != nil {
			t.Fatal(err)
		}
	}
	keys := map[string]bool{}
	for _, r := range rec.requests() {
		checkXrfkey(t, r)
		keys[r.key] = true
	}
	if len(keys) != 5 {
		t.Errorf("%d distinct keys in 5 calls, want 5", len(keys))
	}
}

func TestStatusErrorHints(t *testing.T) {
	tests := []struct {
		name   string
		status int
		reply  string
		hint   string
	}{
		{"403 XSRF", 403, "XSRF prevention check failed. Possible XSRF discovered.",
			"check the Xrfkey and the client certificate (client.pem / client_key.pem"},
		{"400", 400, "Bad request", "lowercase"},
		{"404", 404, "", "check the virtual proxy prefix"},
		{"500", 500, "oops", "proxy log"},
		{"200 instead of 201", 200, "{}", "unexpected answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, _ := newSite(t).node(t, &recorder{status: tc.status, reply: tc.reply})
			_, err := n.AddSession(context.Background(), "bi", alice, "s-1")
			qe, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("got %v, want *Error", err)
			}
			if qe.Status != tc.status || qe.Op != "AddSession" ||
				!strings.Contains(qe.Hint, tc.hint) {
				t.Errorf("got %+v, want status %d and hint with %q", qe, tc.status, tc.hint)
			}
			if wantURL := n.URL().String() + "/qps/bi/session"; qe.URL != wantURL {
				t.Errorf("URL %q, want %q", qe.URL, wantURL)
			}
			if tc.status >= 300 && qe.Body != tc.reply {
				t.Errorf("Body %q, want %q", qe.Body, tc.reply)
			}
			if strings.Contains(err.Error(), "xrfkey") {
				t.Errorf("error shows the xrfkey: %v", err)
			}
		})
	}
}

func TestErrorBodyBounded(t *testing.T) {
	n, _ := newSite(t).node(t, &recorder{status: 500, reply: strings.Repeat("é", 1<<20)})
	err := n.Alive(context.Background(), "bi")
	qe, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("got %v, want *Error", err)
	}
	if len(qe.Body) > 512 || len(qe.Body) < 500 || !strings.HasPrefix(qe.Body, "éé") {
		t.Errorf("Body of %d bytes, want at most 512 and not cut inside a character",
			len(qe.Body))
	}
	if len(err.Error()) > 1024 {
		t.Errorf("error of %d bytes", len(err.Error()))
	}
}

func TestReplyTooLarge(t *testing.T) {
	reply := `{"Ticket":"` + strings.Repeat("x", 1<<20) + `"}`
	n, _ := newSite(t).node(t, &recorder{status: 201, reply: reply})
	_, err := n.RequestTicket(context.Background(), "bi", alice, "")
	if err == nil || !strings.Contains(err.Error(), "reply larger than") {
		t.Fatalf("got %v, want a refused large reply", err)
	}
}

func TestTicketReplyWithoutTicket(t *testing.T) {
	n, _ := newSite(t).node(t, &recorder{status: 201, reply: `{"UserId":"alice"}`})
	if _, err := n.RequestTicket(context.Background(), "bi", alice, ""); err == nil {
		t.Fatal("a reply without a ticket was accepted")
	}
}

// Errors never show the xrfkey, a session id or a ticket, even when the QPS echoes them.
func TestErrorsHideSecrets(t *testing.T) {
	const sid, ticket = "7c1d-secret-session", "TKT-secret-ticket"
	var mu sync.Mutex
	var lastKey string
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		lastKey = r.Header.Get("X-Qlik-Xrfkey")
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/ticket"):
			fmt.Fprintf(w, `{"Ticket":%q}`, ticket) // 200, not the 201 expected
		default:
			w.WriteHeader(500)
			fmt.Fprintf(w, "failed %s %s %s", r.RequestURI, r.URL.Path, body)
		}
	})
	n, _ := newSite(t).node(t, echo)
	ctx := context.Background()
	calls := map[string]func() error{
		"GetSession":    func() error { _, err := n.GetSession(ctx, "bi", sid); return err },
		"DeleteSession": func() error { return n.DeleteSession(ctx, "bi", sid) },
		"AddSession":    func() error { _, err := n.AddSession(ctx, "bi", alice, sid); return err },
		"RequestTicket": func() error {
			_, err := n.RequestTicket(ctx, "bi", alice, "")
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			mu.Lock()
			key := lastKey
			mu.Unlock()
			for _, secret := range []string{sid, ticket, key} {
				if strings.Contains(msg, secret) {
					t.Errorf("error shows %q: %s", secret, msg)
				}
			}
			qe, _ := errors.AsType[*Error](err)
			if qe == nil || strings.Contains(qe.Body, sid) || strings.Contains(qe.Body, ticket) ||
				strings.ContainsAny(qe.URL, "?") || strings.Contains(qe.URL, sid) {
				t.Errorf("Body or URL shows a secret: %+v", qe)
			}
		})
	}
}

// Regression: a prefix that is not lowercase letters, digits, '-', '_' or '.' is refused
// before any request is sent.
func TestPrefixValidation(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"", true}, {"bi", true}, {"my-proxy_2.eu", true},
		{"BI", false}, {"Bi", false}, {"bi/x", false}, {"/bi", false}, {"bi/", false},
		{"b i", false}, {"bi?x=1", false}, {"bi%2F", false}, {"..", false}, {".", false},
		{"bi#", false}, {"bi\\x", false}, {"ß", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.prefix), func(t *testing.T) {
			rec := &recorder{status: 200, reply: "true"}
			n, _ := newSite(t).node(t, rec)
			err := n.Alive(context.Background(), tc.prefix)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPrefix) {
				t.Errorf("got %v, want ErrInvalidPrefix", err)
			}
			if len(rec.requests()) != 0 {
				t.Error("a request was sent")
			}
		})
	}
}

// Regression: ids with a backslash, control characters or dot segments, and identities that
// Normalize refuses, are refused before any request is sent.
func TestIDValidation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(*Node) error
		want error
	}{
		{"empty session id", func(n *Node) error {
			_, err := n.AddSession(ctx, "bi", alice, "")
			return err
		}, ErrInvalidID},
		{"session id with backslash", func(n *Node) error {
			_, err := n.AddSession(ctx, "bi", alice, `a\b`)
			return err
		}, ErrInvalidID},
		{"session id with newline", func(n *Node) error {
			_, err := n.GetSession(ctx, "bi", "a\nb")
			return err
		}, ErrInvalidID},
		{"session id ..", func(n *Node) error { return n.DeleteSession(ctx, "bi", "..") },
			ErrInvalidID},
		{"target id with backslash", func(n *Node) error {
			_, err := n.RequestTicket(ctx, "bi", alice, `x\y`)
			return err
		}, ErrInvalidID},
		{"DOMAIN\\user identity", func(n *Node) error {
			_, err := n.AddSession(ctx, "bi", Identity{UserDirectory: "CORP",
				UserID: `CORP\alice`}, "s-1")
			return err
		}, ErrInvalidIdentity},
		{"blank user id", func(n *Node) error {
			_, err := n.RequestTicket(ctx, "bi", Identity{UserDirectory: "CORP", UserID: " "}, "")
			return err
		}, ErrInvalidIdentity},
		{"user id ..", func(n *Node) error {
			_, err := n.DeleteUserSessions(ctx, "bi", "CORP", "..")
			return err
		}, ErrInvalidID},
		{"log for half a user", func(n *Node) error {
			return n.LogError(ctx, "CORP", "", "x")
		}, ErrInvalidIdentity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{status: 200, reply: "{}"}
			n, _ := newSite(t).node(t, rec)
			if err := tc.call(n); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if len(rec.requests()) != 0 {
				t.Error("a request was sent")
			}
		})
	}
}

// Regression: calls reuse one kept-alive connection, also after an error answer.
func TestConnectionReuse(t *testing.T) {
	var mu sync.Mutex
	status := 201
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, aliceSession)
	})
	n, srv := newSite(t).node(t, h)
	ctx := context.Background()
	for i := range 20 {
		mu.Lock()
		status = 201
		if i%5 == 4 {
			status = 403
		}
		mu.Unlock()
		_, err := n.AddSession(ctx, "bi", alice, "s-1")
		if (err != nil) != (i%5 == 4) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := srv.handshakes.Load(); got != 1 {
		t.Errorf("%d TLS handshakes for 20 calls, want 1", got)
	}
}

// Regression: an HTTP proxy from the environment never applies to QPS calls.
func TestNoProxyFromEnvironment(t *testing.T) {
	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var proxied sync.WaitGroup
	proxyUsed := make(chan struct{}, 1)
	proxied.Go(func() {
		if c, err := proxy.Accept(); err == nil {
			proxyUsed <- struct{}{}
			c.Close()
		}
	})
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"} {
		t.Setenv(v, "http://"+proxy.Addr().String())
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	st := newSite(t)
	cert := st.ca.serverCert(t, leaf{cn: "qs-node.test"})
	srv := startQPS(t, &recorder{status: 200, reply: "true"}, cert, st.ca, nil)
	// The node is named qs-node.test, which the proxy rules do not exempt as they do
	// loopback addresses; dialing it reaches the test server.
	n, err := NewNode(NodeConfig{URL: "https://qs-node.test:4243"}, st.creds)
	if err != nil {
		t.Fatal(err)
	}
	if n.transport.Proxy != nil {
		t.Fatal("the transport has a Proxy function")
	}
	dial := n.transport.DialContext
	n.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "qs-node.test:4243" {
			addr = srv.Listener.Addr().String()
		}
		return dial(ctx, network, addr)
	}
	err = n.Alive(context.Background(), "bi")
	proxy.Close()
	proxied.Wait()
	select {
	case <-proxyUsed:
		t.Fatal("the call went through the proxy from the environment")
	default:
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Regression: a redirect is reported, never followed with the client certificate.
func TestRedirectNotFollowed(t *testing.T) {
	var hits sync.Map
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	n, _ := newSite(t).node(t, h)
	err := n.Alive(context.Background(), "bi")
	if qe, ok := errors.AsType[*Error](err); !ok || qe.Status != http.StatusFound {
		t.Errorf("got %v, want *Error with status 302", err)
	}
	if _, ok := hits.Load("/elsewhere"); ok {
		t.Error("the redirect was followed")
	}
}

// Regression: printing or logging a session or a ticket leaves out the session id and the
// ticket.
func TestSessionAndTicketHideSecrets(t *testing.T) {
	s := Session{UserDirectory: "CORP", UserID: "alice", SessionID: "sid-secret"}
	tk := Ticket{UserDirectory: "CORP", UserID: "alice", Ticket: "tkt-secret"}
	var b strings.Builder
	log := slog.New(slog.NewJSONHandler(&b, nil))
	log.Info("x", "session", s, "ticket", tk)
	fmt.Fprintf(&b, "%v %+v %s %v %+v %s", s, s, s, tk, tk, tk)
	if out := b.String(); strings.Contains(out, "secret") || !strings.Contains(out, "alice") {
		t.Errorf("output: %s", out)
	}
}

func TestContextCanceled(t *testing.T) {
	rec := &recorder{status: 200, reply: "true"}
	n, _ := newSite(t).node(t, rec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Alive(ctx, "bi"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestNewNodeRefuses(t *testing.T) {
	creds := newSite(t).creds
	tests := []struct {
		name  string
		cfg   NodeConfig
		creds *Credentials
	}{
		{"http", NodeConfig{URL: "http://qs.example.com:4243"}, creds},
		{"no host", NodeConfig{URL: "https://:4243"}, creds},
		{"path", NodeConfig{URL: "https://qs.example.com:4243/qps/bi/"}, creds},
		{"query", NodeConfig{URL: "https://qs.example.com:4243?x=1"}, creds},
		{"user info", NodeConfig{URL: "https://u:p@qs.example.com:4243"}, creds},
		{"negative timeout", NodeConfig{URL: "https://qs.example.com:4243", Timeout: -1}, creds},
		{"no credentials", NodeConfig{URL: "https://qs.example.com:4243"}, nil},
		{"zero credentials", NodeConfig{URL: "https://qs.example.com:4243"}, &Credentials{}},
		{"zero config", NodeConfig{}, creds},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewNode(tc.cfg, tc.creds); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestNodeURL(t *testing.T) {
	n, err := NewNode(NodeConfig{URL: "https://qs.example.com:4243/"}, newSite(t).creds)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.URL().String(); got != "https://qs.example.com:4243" {
		t.Errorf("URL %q", got)
	}
	n.URL().Host = "changed"
	if n.URL().Host != "qs.example.com:4243" {
		t.Error("URL returned the node's own base")
	}
}

func BenchmarkAddSession(b *testing.B) {
	n, _ := newSite(b).node(b, &recorder{status: 201, reply: aliceSession})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.AddSession(ctx, "bi", alice, "s-1"); err != nil {
			b.Fatal(err)
		}
	}
}
