package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the map command's golden files")

// casesDir holds the field cases as claims files, configuration fragments and the map
// command's expected output; the bridge package asserts the same cases on MapClaims.
const casesDir = "../../bridge/testdata/map"

// TestMapCommandCases runs every case variant through the map command: <v>.want.json is
// its exact output, <v>.error.txt part of the error for a configuration it refuses.
// Inputs: <v>.config.yaml or config.yaml, <v>.claims.json or claims.json, and
// <v>.userinfo.json and <v>.access_token.json when present.
func TestMapCommandCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(casesDir, "*", "*.want.json"))
	if err != nil {
		t.Fatal(err)
	}
	errs, _ := filepath.Glob(filepath.Join(casesDir, "*", "*.error.txt"))
	if len(dirs) < 40 {
		t.Fatalf("found %d cases in %s", len(dirs), casesDir)
	}
	certDir := fakeCerts(t)
	for _, want := range append(dirs, errs...) {
		dir, file := filepath.Split(want)
		variant, _, _ := strings.Cut(file, ".")
		t.Run(filepath.Base(dir)+"/"+variant, func(t *testing.T) {
			args := mapArgs(t, dir, variant, certDir)
			var out bytes.Buffer
			err := run(context.Background(), args, &out, io.Discard)
			if strings.HasSuffix(want, ".error.txt") {
				checkConfigError(t, want, err)
				return
			}
			checkGolden(t, want, out.Bytes(), err)
		})
	}
}

// mapArgs writes the variant's configuration and returns the map command line.
func mapArgs(t *testing.T, dir, variant, certDir string) []string {
	t.Helper()
	pick := func(name string, fallback bool) string {
		if p := filepath.Join(dir, variant+"."+name); exists(p) {
			return p
		}
		if p := filepath.Join(dir, name); fallback && exists(p) {
			return p
		}
		return ""
	}
	base, err := os.ReadFile(filepath.Join(casesDir, "base.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fragment, err := os.ReadFile(pick("config.yaml", true))
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "config.yaml")
	text := strings.ReplaceAll(string(base), "@DIR@", certDir) + string(fragment)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"map", "--config", config, "--claims", pick("claims.json", true)}
	if p := pick("userinfo.json", false); p != "" {
		args = append(args, "--userinfo", p)
	}
	if p := pick("access_token.json", false); p != "" {
		args = append(args, "--access-token", p)
	}
	return args
}

func checkConfigError(t *testing.T, want string, err error) {
	t.Helper()
	part, rerr := os.ReadFile(want)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(string(part))) {
		t.Fatalf("err = %v, want it to contain %q", err, part)
	}
}

// checkGolden compares the output with the golden file, and the exit status with the
// output: a refusal is an error (exit status 1), an identity is not.
func checkGolden(t *testing.T, want string, out []byte, err error) {
	t.Helper()
	var got mapOutput
	if jerr := json.Unmarshal(out, &got); jerr != nil {
		t.Fatalf("output is not JSON (%v): %s; err = %v", jerr, out, err)
	}
	if (got.Refused != nil) != (err != nil) {
		t.Fatalf("refused %+v but err = %v", got.Refused, err)
	}
	if *update {
		if werr := os.WriteFile(want, out, 0o644); werr != nil {
			t.Fatal(werr)
		}
		return
	}
	golden, rerr := os.ReadFile(want)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(out, golden) {
		t.Errorf("output differs from %s (run with -update after checking):\n%s", want, out)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// fakeCerts writes the placeholder certificate files a configuration names; map reads the
// configuration but never the certificates.
func fakeCerts(t *testing.T) string {
	dir := t.TempDir()
	for _, n := range []string{"client.pem", "client_key.pem", "root.pem"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMapCommandUsage(t *testing.T) {
	certDir := fakeCerts(t)
	args := mapArgs(t, casesDir+"/c09-group-shapes/", "string", certDir)
	for _, tc := range []struct {
		name    string
		args    []string
		errPart string
	}{
		{"no claims", []string{"map", "--config", args[2]}, "--config and --claims are required"},
		{"unknown proxy", append(args, "--proxy", "other"), `no virtual proxy has the prefix "other"`},
		{"claims not an object", []string{"map", "--config", args[2], "--claims", args[2]},
			"invalid character"},
		{"missing claims file", []string{"map", "--config", args[2], "--claims", "/nonexistent.json"},
			"no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Fatalf("err = %v, want %q", err, tc.errPart)
			}
		})
	}
	var out bytes.Buffer
	if err := run(context.Background(), append(args, "--proxy", "bi"), &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), `"proxy": "bi"`) {
		t.Fatalf("--proxy bi: %v\n%s", err, out.String())
	}
}
