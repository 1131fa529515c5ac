package e2eutil

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BrowserTimeout is how long a browser from NewBrowser lives unless BrowserOptions says
// otherwise.
const BrowserTimeout = 60 * time.Second

// BrowserOptions configures NewBrowserWith. The zero value is a browser that trusts no
// extra certificate, resolves only localhost and loopback addresses, and lives for
// BrowserTimeout.
type BrowserOptions struct {
	// Trust lists certificates (a CA, or a server's own) whose public keys the browser
	// accepts in a server's chain although no system root signed them; nil trusts none.
	Trust []*x509.Certificate
	// Hosts are further host names the browser resolves to 127.0.0.1; every other name
	// but localhost fails to resolve, so that no page reaches beyond this machine.
	Hosts []string
	// Timeout ends the browser; zero means BrowserTimeout.
	Timeout time.Duration
}

// NewBrowser starts headless Chromium with a fresh profile, trusting the certificates in
// trust (such as an OP's CA), and returns a chromedp context for it. The browser is closed
// when t ends, or after BrowserTimeout.
func NewBrowser(t testing.TB, trust ...*x509.Certificate) context.Context {
	t.Helper()
	return NewBrowserWith(t, BrowserOptions{Trust: trust})
}

// NewBrowserWith is NewBrowser with options.
func NewBrowserWith(t testing.TB, opts BrowserOptions) context.Context {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		t.Fatal("e2eutil: chromium is not installed (apt-get install chromium)")
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = BrowserTimeout
	}

	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		browserFlags(path, t.TempDir(), opts)...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})

	// Start the browser now, so that a broken installation fails here.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("e2eutil: starting %s: %v", path, err)
	}
	return browserCtx
}

// browserFlags returns chromedp's defaults plus the flags for a quiet, sandboxless,
// loopback-only browser with its profile in dataDir.
func browserFlags(path, dataDir string, opts BrowserOptions) []chromedp.ExecAllocatorOption {
	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dataDir),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("host-resolver-rules", hostRules(opts.Hosts)),
	)
	if len(opts.Trust) > 0 {
		hashes := make([]string, len(opts.Trust))
		for i, c := range opts.Trust {
			hashes[i] = SPKIHash(c)
		}
		flags = append(flags,
			chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(hashes, ",")))
	}
	return flags
}

// hostRules maps hosts to 127.0.0.1, and every other name but localhost and the loopback
// addresses to nothing.
func hostRules(hosts []string) string {
	var rules []string
	for _, h := range hosts {
		rules = append(rules, "MAP "+h+" 127.0.0.1")
	}
	rules = append(rules, "MAP * ~NOTFOUND",
		"EXCLUDE localhost", "EXCLUDE 127.0.0.1", "EXCLUDE [::1]")
	return strings.Join(rules, ", ")
}
