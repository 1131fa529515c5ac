package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
)

// TestDemo runs the demo as a newcomer would and logs in from both printed URLs.
func TestDemo(t *testing.T) {
	base := freePorts(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo", "--port", fmt.Sprint(base)}, out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo ended with %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Users (username / password)") {
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	links := regexp.MustCompile(`(?m)^\s+(http://\S+)$`).FindAllStringSubmatch(out.String(), -1)
	if len(links) < 2 {
		t.Fatalf("no links printed: %s", out.String())
	}
	deep, portal := links[0][1], links[1][1]

	for _, tc := range []struct{ name, start, want string }{
		{"deep link", deep, deep},
		{"portal link", portal, fmt.Sprintf("http://qlik.localhost:%d/bi/hub/", base)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := localhostBrowser()
			final, body := demoLogin(t, c, tc.start, "alice")
			if final != tc.want {
				t.Errorf("ended at %s, want %s", final, tc.want)
			}
			if !strings.Contains(body, `Logged in as DEMO\alice`) ||
				!strings.Contains(body, "Group: Sales") {
				t.Errorf("page: %s", body)
			}
		})
	}
}

// demoLogin follows redirects from start, logs in at the provider and follows them home.
func demoLogin(t *testing.T, c *http.Client, start, user string) (string, string) {
	u, _ := follow(t, c, start, "localhost:")
	back, err := oidctest.Login(c, u, user, user)
	if err != nil {
		t.Fatal(err)
	}
	return follow(t, c, back.String(), "")
}

// follow follows redirects until a page, or until a URL whose host starts with stopHost.
func follow(t *testing.T, c *http.Client, raw, stopHost string) (string, string) {
	for i := 0; i < 10; i++ {
		u, _ := url.Parse(raw)
		if stopHost != "" && strings.HasPrefix(u.Host, stopHost) {
			return raw, ""
		}
		resp, err := c.Get(raw)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc == "" {
			return raw, string(b)
		}
		next, _ := resp.Request.URL.Parse(loc)
		raw = next.String()
	}
	t.Fatal("redirect loop")
	return "", ""
}

// localhostBrowser resolves every *.localhost name to loopback, as browsers do.
func localhostBrowser() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// freePorts returns the first of n consecutive free loopback ports.
func freePorts(t *testing.T, n int) int {
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(30000)
		var lns []net.Listener
		for i := 0; i < n; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if len(lns) == n {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

func TestCommands(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("server: {public_url: ftp://x}\n"), 0o600)
	for _, tc := range []struct {
		name    string
		args    []string
		out     string // in stdout
		errPart string // in the error, "" = success
	}{
		{"version", []string{"version"}, "qlik-oidc-bridge ", ""},
		{"keygen", []string{"keygen"}, "=\n", ""},
		{"no command", nil, "", "no command given"},
		{"unknown", []string{"frobnicate"}, "", `unknown command "frobnicate"`},
		{"serve without config", []string{"serve"}, "", "--config is required"},
		{"missing file", []string{"serve", "--config", "/nonexistent.yaml"}, "", "no such file"},
		{"bad config names the setting", []string{"check", "--config", bad}, "",
			`server.public_url: "ftp://x" is not an absolute http or https URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tc.args, &out, io.Discard)
			if tc.errPart == "" && err != nil || tc.errPart != "" &&
				(err == nil || !strings.Contains(err.Error(), tc.errPart)) {
				t.Fatalf("err = %v, want %q", err, tc.errPart)
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("output %q lacks %q", out.String(), tc.out)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
