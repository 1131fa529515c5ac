package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
)

// Exit statuses of login and logout, besides 0 (done) and 1 (any other failure).
const (
	exitUsage       = 2 // a wrong flag
	exitRefused     = 3 // the user may not log in, or cancelled at the identity provider
	exitExpired     = 4 // the code or the browser was not used in time
	exitUnavailable = 5 // scripts are off, the virtual proxy is not open to them, or the way is
	exitRejected    = 6 // the bridge rejected a step of the exchange (wrong verifier, used code)
)

const loginUsage = `Usage: qlik-oidc-bridge login --bridge URL [flags]

Signs you in to Qlik Sense through the bridge, with the same identity provider and rules
as the browser, and prints the Qlik session for scripts: curl, PowerShell, Python.
The session is kept in your configuration directory (readable only by you) and reused
while it is alive, so repeated runs do not use up Qlik's limit of five sessions per user;
"qlik-oidc-bridge logout --bridge URL" ends it.

Two ways to sign in: with a code shown here and entered at the identity provider in any
browser (the device authorization grant, when the provider offers it), or in a browser
that this command opens, where you allow this command on the bridge's page, and that
returns to it on this computer. Runs for the same bridge and virtual proxy take turns.

Flags:
`

const loginTail = `
Exit status: 0 done; 1 failure; 2 wrong flags; 3 refused or cancelled; 4 not signed in
in time; 5 not available at this bridge (scripts off, virtual proxy not open to scripts,
or the way asked for); 6 a step of the exchange was rejected.
`

// Test seams: how a browser is opened and how the command waits between polls.
var (
	openBrowser = openSystemBrowser
	pause       = sleep
)

// exitError is an error with the exit status main should use.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the process exit status for the error.
func (e *exitError) ExitCode() int { return e.code }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// loginFlags are login's settings.
type loginFlags struct {
	bridge, proxy, format, output string
	device, browser, proxyGiven   bool
	timeout                       time.Duration
}

func parseLoginFlags(args []string, stdout, stderr io.Writer) (*loginFlags, error) {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	f := &loginFlags{}
	fs.StringVar(&f.bridge, "bridge", "", "the bridge's `URL`, as server.public_url "+
		"(https; http only on this computer). Required")
	fs.StringVar(&f.proxy, "proxy", "", "the virtual proxy's `prefix` (default: the first "+
		"one the bridge offers)")
	fs.StringVar(&f.format, "format", "json", "what to print, `json|curl|header`: json is "+
		"the session (cookie name, value, domain, path, secure, Qlik URL, expiry); curl a "+
		"cookie jar for curl -b; header a line \"Cookie: NAME=VALUE\" for curl -H and "+
		"Invoke-RestMethod -Headers")
	fs.StringVar(&f.output, "output", "", "write to `file` (created readable only by you) "+
		"instead of standard output")
	fs.BoolVar(&f.device, "device", false, "sign in with a code entered in any browser, "+
		"also on another device (the default when the identity provider offers it)")
	fs.BoolVar(&f.browser, "browser", false, "sign in with a browser on this computer that "+
		"returns to this command (the default otherwise)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long to wait for the sign-in, "+
		"including a wait for another run of this command")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), loginUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), loginTail)
	}
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return nil, err
	}
	f.proxyGiven = flagGiven(fs, "proxy")
	switch {
	case fs.NArg() > 0:
		return nil, exitf(exitUsage, "login: unexpected argument %q", fs.Arg(0))
	case f.device && f.browser:
		return nil, exitf(exitUsage, "login: choose --device or --browser, not both")
	case f.format != "json" && f.format != "curl" && f.format != "header":
		return nil, exitf(exitUsage, "login: --format must be json, curl or header")
	case f.timeout <= 0:
		return nil, exitf(exitUsage, "login: --timeout must be positive")
	}
	var err error
	f.bridge, err = checkBridgeURL(f.bridge)
	return f, err
}

// parseFlags parses args with fs. The help asked for goes to stdout; after a wrong flag,
// the error and the help go to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr) // a later fs.Usage() is an error's explanation
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = out.WriteTo(stdout)
		return err
	case err != nil:
		_, _ = out.WriteTo(stderr)
		return &exitError{code: exitUsage, err: err}
	}
	return nil
}

// checkBridgeURL requires an https URL, or http on this computer, and trims it.
func checkBridgeURL(raw string) (string, error) {
	if raw == "" {
		return "", exitf(exitUsage, "--bridge is required: the bridge's URL, e.g. "+
			"https://login.example.com")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", exitf(exitUsage, "--bridge %q is not an absolute URL", raw)
	}
	host := strings.ToLower(u.Hostname())
	local := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		local = true
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return "", exitf(exitUsage, "--bridge must be https (http only on this computer): "+
			"the session crosses the network")
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return strings.TrimSuffix(u.String(), "/"), nil
}

// login prints a Qlik session for the virtual proxy, reusing the cached one while alive.
func login(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseLoginFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	cli := &bridge.ScriptClient{BridgeURL: f.bridge, HTTPClient: commandClient()}
	info, err := cli.Info(ctx)
	if err != nil {
		return scriptExit(err)
	}
	prefix, err := chooseProxy(info, f)
	if err != nil {
		return err
	}
	cache, err := openCache(f.bridge, prefix)
	if err != nil {
		return err
	}
	// Runs that share the cache take turns; the one after a sign-in reuses its session.
	lock, err := cache.lock(ctx, stderr)
	if err != nil {
		return err
	}
	defer lock.release()
	s, err := cache.reuse(ctx, cli, prefix, stderr)
	if err != nil {
		return err
	}
	if s != nil {
		fmt.Fprintf(stderr, "Reusing the Qlik session of %s\\%s on %s\n", s.UserDirectory,
			s.UserID, s.QlikURL)
		return printSession(s, f, stdout)
	}

	if s, err = signIn(ctx, cli, info, prefix, f, stderr); err != nil {
		return err
	}
	if err := cache.save(s); err != nil {
		fmt.Fprintf(stderr, "warning: the session is not kept for reuse: %v\n", err)
	}
	fmt.Fprintf(stderr, "Signed in to Qlik Sense as %s\\%s on %s\n", s.UserDirectory,
		s.UserID, s.QlikURL)
	return printSession(s, f, stdout)
}

// chooseProxy returns the prefix asked for, if the bridge offers it, or the default one.
func chooseProxy(info *bridge.ScriptInfo, f *loginFlags) (string, error) {
	var offered []string
	for _, p := range info.Proxies {
		if p.Prefix == f.proxy || !f.proxyGiven {
			return p.Prefix, nil
		}
		offered = append(offered, fmt.Sprintf("%q", p.Prefix))
	}
	if len(offered) == 0 {
		return "", exitf(exitUnavailable, "the bridge offers no virtual proxy to command-line "+
			"logins")
	}
	return "", exitf(exitUnavailable, "the virtual proxy %q is not configured at the bridge "+
		"for command-line logins; it offers %s", f.proxy, strings.Join(offered, ", "))
}

// signIn runs the way asked for, or the device way when the bridge offers it.
func signIn(ctx context.Context, cli *bridge.ScriptClient, info *bridge.ScriptInfo,
	prefix string, f *loginFlags, stderr io.Writer) (*bridge.ScriptSession, error) {
	device := info.DeviceFlow && !f.browser
	if f.device && !info.DeviceFlow {
		return nil, exitf(exitUnavailable, "the identity provider does not offer sign-in "+
			"with a code at this bridge; use --browser")
	}
	verifier, challenge, err := bridge.NewScriptVerifier()
	if err != nil {
		return nil, err
	}
	if device {
		return deviceLogin(ctx, cli, prefix, verifier, challenge, stderr)
	}
	return browserLogin(ctx, cli, prefix, verifier, challenge, stderr)
}

// deviceLogin shows the user code and polls the bridge until the person has entered it.
func deviceLogin(ctx context.Context, cli *bridge.ScriptClient, prefix, verifier,
	challenge string, stderr io.Writer) (*bridge.ScriptSession, error) {
	d, err := cli.StartDevice(ctx, prefix, challenge)
	if err != nil {
		return nil, scriptExit(err)
	}
	fmt.Fprintf(stderr, "To sign in, open %s in a browser and enter the code\n\n    %s\n\n",
		d.VerificationURI, d.UserCode)
	if d.VerificationURIComplete != "" {
		fmt.Fprintf(stderr, "or open %s\n", d.VerificationURIComplete)
	}
	fmt.Fprintln(stderr, "Enter codes only that you asked for yourself. Waiting...")
	interval := time.Duration(max(d.Interval, 1)) * time.Second
	for {
		s, err := cli.PollDevice(ctx, d.Handle, verifier)
		var se *bridge.ScriptError
		switch {
		case err == nil:
			return s, nil
		case errors.As(err, &se) && se.Code == bridge.ScriptErrSlowDown:
			interval += 5 * time.Second
		case ctx.Err() != nil:
			return nil, waitEnded(ctx, "the code was not entered")
		case !errors.As(err, &se) || se.Code != bridge.ScriptErrPending:
			return nil, scriptExit(err)
		}
		if pause(ctx, interval) != nil {
			return nil, waitEnded(ctx, "the code was not entered")
		}
	}
}

// browserLogin opens the bridge's login in a browser and waits on a loopback listener for
// the browser to come back with the one-time code, which it redeems with the verifier.
func browserLogin(ctx context.Context, cli *bridge.ScriptClient, prefix, verifier,
	challenge string, stderr io.Writer) (*bridge.ScriptSession, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("login: listening for the browser: %w", err)
	}
	state := randomState()
	l := &listener{cli: cli, state: state, verifier: verifier,
		done: make(chan loginResult, 1)}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Shutdown lets the page to the browser finish; Close would cut it off.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	redirect := "http://" + ln.Addr().String() + "/callback"
	u := cli.LoginURL(prefix, redirect, challenge, state)
	fmt.Fprintf(stderr, "Opening a browser to sign in. If none opens, open this address:\n\n"+
		"    %s\n\nWaiting...\n", u)
	if err := openBrowser(u); err != nil {
		fmt.Fprintf(stderr, "(the browser could not be opened: %v)\n", err)
	}
	select {
	case r := <-l.done:
		return r.session, r.err
	case <-ctx.Done():
		return nil, waitEnded(ctx, "the browser did not come back (if it shows an error, "+
			"that page says why)")
	}
}

// waitEnded explains why waiting for the sign-in stopped.
func waitEnded(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitf(exitExpired, "login: %s within the time allowed (--timeout)", what)
	}
	return fmt.Errorf("login: stopped: %w", ctx.Err())
}

// loginResult is what the browser brought back.
type loginResult struct {
	session *bridge.ScriptSession
	err     error
}

// listener is the command's loopback endpoint for the browser way.
type listener struct {
	cli             *bridge.ScriptClient
	state, verifier string
	answered        atomic.Bool
	done            chan loginResult // buffered: takes the one answer
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/callback" {
		http.NotFound(w, r)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(l.state)) != 1 {
		// Not this sign-in's answer: a forged request, or an old tab. Ignored.
		loopbackPage(w, http.StatusBadRequest, "This is not the sign-in this command waits for.")
		return
	}
	if l.answered.Swap(true) {
		loopbackPage(w, http.StatusOK, "This sign-in has already finished.")
		return
	}
	res := l.redeem(r.Context(), q)
	// The page goes out before the command learns the result: once it has, it stops
	// this listener.
	defer func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		l.done <- res
	}()
	if res.err != nil {
		loopbackPage(w, http.StatusForbidden, "The sign-in failed: "+res.err.Error())
		return
	}
	loopbackPage(w, http.StatusOK, "You are signed in to Qlik Sense. You can close this "+
		"window and return to the command line.")
}

// redeem turns the browser's answer into the session, or the error to end with.
func (l *listener) redeem(ctx context.Context, q url.Values) loginResult {
	switch {
	case q.Get("error") != "":
		return loginResult{err: scriptExit(&bridge.ScriptError{Code: q.Get("error"),
			Description: q.Get("error_description")})}
	case q.Get("code") == "":
		return loginResult{err: exitf(exitRejected, "the browser came back without a code")}
	}
	s, err := l.cli.Redeem(ctx, q.Get("code"), l.verifier)
	if err != nil {
		return loginResult{err: scriptExit(err)}
	}
	return loginResult{session: s}
}

func loopbackPage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"+
		"<title>qlik-oidc-bridge</title></head><body><p id=\"message\">%s</p></body></html>\n",
		html.EscapeString(msg))
}

func randomState() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// scriptExit turns the bridge's refusal into an error with a clear message and the right
// exit status.
func scriptExit(err error) error {
	var se *bridge.ScriptError
	if !errors.As(err, &se) {
		return exitf(1, "login: %v", err)
	}
	msg := se.Description
	if msg == "" {
		msg = se.Code
	}
	if se.Reference != "" {
		msg += " (reference " + se.Reference + ")"
	}
	code, prefix := 1, "login: "
	switch se.Code {
	case bridge.ScriptErrDisabled, bridge.ScriptErrUnknownProxy, bridge.ScriptErrNoDevice:
		code = exitUnavailable
	case bridge.ScriptErrRefused:
		code, prefix = exitRefused, "login refused: "
	case bridge.ScriptErrDenied:
		code = exitRefused
	case bridge.ScriptErrExpired:
		code = exitExpired
	case bridge.ScriptErrInvalidGrant:
		code = exitRejected
	}
	return &exitError{code: code, err: errors.New(prefix + msg)}
}

// printSession writes s in the format asked for.
func printSession(s *bridge.ScriptSession, f *loginFlags, stdout io.Writer) error {
	var text string
	switch f.format {
	case "curl":
		text = cookieJar(s)
	case "header":
		text = "Cookie: " + s.CookieName + "=" + s.CookieValue + "\n"
	default:
		b, _ := json.MarshalIndent(s, "", "  ")
		text = string(b) + "\n"
	}
	if f.output == "" {
		_, err := io.WriteString(stdout, text)
		return err
	}
	return writePrivate(f.output, []byte(text))
}

// cookieJar is the session as a Netscape cookie file, which curl reads with -b and -c.
func cookieJar(s *bridge.ScriptSession) string {
	domain, sub := s.CookieDomain, "FALSE"
	if !s.HostOnly {
		domain, sub = "."+domain, "TRUE"
	}
	secure := "FALSE"
	if s.Secure {
		secure = "TRUE"
	}
	// Expiry 0: a session cookie, as Qlik sets it; Qlik ends the session itself.
	return fmt.Sprintf("# Netscape HTTP Cookie File\n"+
		"# A Qlik session of %s\\%s from qlik-oidc-bridge login. Use it with curl -b FILE.\n"+
		"#HttpOnly_%s\t%s\t%s\t%s\t0\t%s\t%s\n",
		s.UserDirectory, s.UserID, domain, sub, s.CookiePath, secure, s.CookieName,
		s.CookieValue)
}

// writePrivate writes data to path, readable and writable by the user only.
func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

const logoutUsage = `Usage: qlik-oidc-bridge logout --bridge URL [--proxy PREFIX]

Ends the Qlik sessions that "qlik-oidc-bridge login" keeps for the bridge, on every proxy
node, and forgets them.

Flags:
`

// logoutCommand ends the cached sessions of a bridge (of one virtual proxy with --proxy)
// and forgets them.
func logoutCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logout", flag.ContinueOnError)
	rawBridge := fs.String("bridge", "", "the bridge's `URL`, as given to login. Required")
	prefix := fs.String("proxy", "", "end only the session of this virtual proxy `prefix` "+
		"(default: every session kept for the bridge)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), logoutUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	bridgeURL, err := checkBridgeURL(*rawBridge)
	if err != nil {
		return err
	}
	caches, err := cachedSessions(bridgeURL, *prefix, flagGiven(fs, "proxy"))
	if err != nil {
		return err
	}
	if len(caches) == 0 {
		fmt.Fprintf(stderr, "No Qlik session is kept for %s\n", bridgeURL)
		return nil
	}
	cli := &bridge.ScriptClient{BridgeURL: bridgeURL, HTTPClient: commandClient()}
	for _, c := range caches {
		s, err := c.read()
		if err != nil || s == nil {
			continue // gone or changed since it was listed
		}
		err = cli.Logout(ctx, s)
		var se *bridge.ScriptError
		if err != nil && !errors.As(err, &se) {
			return fmt.Errorf("logout: the session of %s is kept, try again: %w", s.QlikURL, err)
		}
		c.remove()
		if err != nil {
			fmt.Fprintf(stderr, "Forgot the session of %s; the bridge said: %v\n", s.QlikURL, err)
			continue
		}
		fmt.Fprintf(stderr, "Ended the Qlik session of %s\\%s on %s\n", s.UserDirectory,
			s.UserID, s.QlikURL)
	}
	return nil
}

// openSystemBrowser asks the desktop to open u in the default browser.
func openSystemBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	case "darwin":
		cmd = exec.Command("open", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commandClient is the command's HTTP client. Like browsers and curl, it resolves every
// *.localhost name to this machine (RFC 6761), which Go's resolver does not.
func commandClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	dial := (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil &&
			strings.HasSuffix(strings.ToLower(host), ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dial(ctx, network, addr)
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second, CheckRedirect: bridge.NoRedirects}
}
