package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	_ "embed"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc/oidctest"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

// demoConfig is the bridge's configuration in the demo: an ordinary configuration file
// whose ${...} placeholders are filled in at start.
//
//go:embed demo.yaml
var demoConfig string

// demoSite is where the demo's three parts listen. Browsers resolve every *.localhost
// name to this machine, so the parts get names of their own and cookies behave as on a
// real site: Qlik at qlik.localhost, the bridge at login.qlik.localhost (sharing the
// cookie domain qlik.localhost), the identity provider at localhost.
type demoSite struct {
	host     string // the address every part listens on
	basePort int
}

func (d demoSite) qlikURL() string { return fmt.Sprintf("http://qlik.localhost:%d", d.basePort) }
func (d demoSite) bridgeURL() string {
	return fmt.Sprintf("http://login.qlik.localhost:%d", d.basePort+1)
}
func (d demoSite) idpURL() string { return fmt.Sprintf("http://localhost:%d", d.basePort+2) }
func (d demoSite) addr(offset int) string {
	return net.JoinHostPort(d.host, fmt.Sprint(d.basePort+offset))
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	port := fs.Int("port", 9080, "first of four consecutive `port`s: Qlik, bridge, IdP, QPS REST API")
	mode := fs.String("mode", "session", "how a portal login ends: session or ticket")
	verbose := fs.Bool("v", false, "log every request of the bridge")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *port < 1024 || *port > 65532 {
		return fmt.Errorf("demo: --port %d: give the first of four free ports, 1024 to 65532", *port)
	}
	if *mode != "session" && *mode != "ticket" {
		return fmt.Errorf("demo: --mode %q: must be session or ticket", *mode)
	}
	site := demoSite{host: "127.0.0.1", basePort: *port}

	dir, err := os.MkdirTemp("", "qlik-oidc-bridge-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The simulated Qlik proxy: REST API with mutual TLS, browser side over http.
	qps, err := qpstest.Start(qpstest.Config{
		Hostname:    "localhost",
		CertDir:     dir,
		RESTAddr:    site.addr(3),
		BrowserAddr: site.addr(0),
		BrowserHost: "qlik.localhost",
		VirtualProxies: []qpstest.VirtualProxy{{
			Prefix:                "bi",
			CookieName:            "X-Qlik-Session-bi",
			CookieDomain:          "qlik.localhost",
			AuthModuleRedirectURI: site.bridgeURL() + "/login",
			LogoutRedirectURI:     site.bridgeURL() + "/logout",
		}},
	})
	if err != nil {
		return fmt.Errorf("demo: qlik simulator: %w%s", err, portHint(err))
	}
	defer qps.Close()

	// The identity provider.
	secret := randomString()
	idp, err := oidctest.New(oidctest.Config{
		Issuer:     site.idpURL(),
		Users:      oidctest.DemoUsers(),
		DeviceFlow: true,
		Clients: []oidctest.Client{{
			ID: "qlik-oidc-bridge", Secret: secret,
			RedirectURIs: []string{site.bridgeURL() + "/callback"},
		}},
	})
	if err != nil {
		return fmt.Errorf("demo: identity provider: %w", err)
	}
	idpLn, err := net.Listen("tcp", site.addr(2))
	if err != nil {
		return fmt.Errorf("demo: identity provider: %w%s", err, portHint(err))
	}
	idpSrv := &http.Server{Handler: idp, ReadHeaderTimeout: 10 * time.Second}
	go idpSrv.Serve(idpLn)
	defer idpSrv.Close()

	// The bridge, configured like any other site.
	client, key, root := qps.CertFiles()
	text := strings.NewReplacer(
		"${BRIDGE_URL}", site.bridgeURL(),
		"${LISTEN}", site.addr(1),
		"${ISSUER}", site.idpURL(),
		"${CLIENT_SECRET}", secret,
		"${QLIK_URL}", site.qlikURL(),
		"${QPS_URL}", qps.RESTURL(),
		"${MODE}", *mode,
		"${CLIENT_PEM}", client,
		"${CLIENT_KEY_PEM}", key,
		"${ROOT_PEM}", root,
		"${COOKIE_KEY}", randomString(),
	).Replace(demoConfig)
	cfg, err := bridge.Parse([]byte(text))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	logw := io.Discard
	if *verbose {
		logw = stderr
	}
	srv, err := bridge.New(ctx, cfg, bridge.Options{Logger: bridge.NewLogger(logw, cfg.Log)})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("demo: bridge: %w%s", err, portHint(err))
	}

	printDemo(stdout, site)
	err = srv.ServeListener(ctx, ln)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func printDemo(w io.Writer, site demoSite) {
	fmt.Fprintf(w, `qlik-oidc-bridge demo is running (Ctrl-C to stop).

  Open a Qlik deep link; Qlik sends you to the bridge, the bridge to the identity provider,
  and after the login you land on that same page:

    %[1]s/bi/sense/app/demo-app/sheet/overview?opt=ctxmenu

  Or start at the bridge, as a portal link would:

    %[2]s/login?target=%[3]s

  Users (username / password):
`, site.qlikURL(), site.bridgeURL(), url.QueryEscape(site.qlikURL()+"/bi/hub/"))
	for _, u := range oidctest.DemoUsers() {
		groups := "no groups"
		if g, ok := u.Claims["groups"].([]any); ok {
			var names []string
			for _, v := range g {
				names = append(names, fmt.Sprint(v))
			}
			groups = "groups " + strings.Join(names, ", ")
		} else if g, ok := u.Claims["groups"].([]string); ok {
			groups = "groups " + strings.Join(g, ", ")
		}
		fmt.Fprintf(w, "    %-6s / %-8s %s\n", u.Username, u.Password, groups)
	}
	fmt.Fprintf(w, `
  A session for scripts (curl, PowerShell) without a browser on the command's machine:

    go run ./cmd/qlik-oidc-bridge login --bridge %[2]s --device

  "Log out" on the Qlik page ends the Qlik session and goes on, through the bridge's
  /logout, to the identity provider's logout (this demo provider keeps no sessions, so
  every login asks for the password; a real one with single sign-on would not).

  The parts: Qlik (simulated) %[1]s, bridge %[2]s, identity provider %[3]s.
  Browsers resolve *.localhost to this machine; for curl use -L with a cookie jar.
`, site.qlikURL(), site.bridgeURL(), site.idpURL())
}

// portHint suggests another port when one is taken.
func portHint(err error) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return " (another program uses the port: try --port with another first port)"
	}
	return ""
}

func randomString() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b[:])
}
