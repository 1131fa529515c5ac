// Package e2eutil starts the real OpenID provider and headless Chromium for the end-to-end tests.
package e2eutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// EnvVar is the environment variable that turns the end-to-end tests on when it is "1".
const EnvVar = "QOB_E2E"

// RequireE2E skips t unless QOB_E2E=1. When it is 1, it fails t with what to install if node,
// the provider's npm packages or Chromium is missing, so that a CI run never passes by
// skipping.
func RequireE2E(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvVar) != "1" {
		t.Skipf("e2e: end-to-end test skipped; set %s=1 to run it (bash scripts/test does)",
			EnvVar)
	}
	if missing := missingPrerequisites(); len(missing) > 0 {
		t.Fatalf("e2e: %s=1 but %s; bash scripts/test installs what is missing",
			EnvVar, strings.Join(missing, "; "))
	}
}

// missingPrerequisites lists what the end-to-end tests need and cannot find.
func missingPrerequisites() []string {
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node is not on PATH (apt-get install nodejs npm)")
	}
	if err := checkProviderPackages(); err != nil {
		missing = append(missing, err.Error())
	}
	if ChromiumPath() == "" {
		missing = append(missing, "chromium is not installed (apt-get install chromium)")
	}
	return missing
}

// checkProviderPackages reports an error unless e2e/op has its npm packages installed.
func checkProviderPackages() error {
	dir, err := opDir()
	if err != nil {
		return err
	}
	pkg := filepath.Join(dir, "node_modules", "oidc-provider", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return errorf("oidc-provider is not installed (run npm ci in %s)", dir)
	}
	return nil
}

// ChromiumPath returns the Chromium binary to drive: /usr/bin/chromium, else chromium on
// PATH, else "".
func ChromiumPath() string {
	const debian = "/usr/bin/chromium"
	if info, err := os.Stat(debian); err == nil && !info.IsDir() {
		return debian
	}
	if path, err := exec.LookPath("chromium"); err == nil {
		return path
	}
	return ""
}

// opDir returns the directory of the provider's Node project, e2e/op. It is found beside
// this source file, or, when the build hides source paths, above the working directory.
func opDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "op")
		if isOpDir(dir) {
			return filepath.Clean(dir), nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", errorf("finding e2e/op: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		for _, cand := range []string{filepath.Join(dir, "op"), filepath.Join(dir, "e2e", "op")} {
			if isOpDir(cand) {
				return cand, nil
			}
		}
		if filepath.Dir(dir) == dir {
			return "", errorf("e2e/op not found beside the source or above %s", wd)
		}
	}
}

// isOpDir reports whether dir holds the provider's server.mjs.
func isOpDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "server.mjs"))
	return err == nil
}
