// Command qlik-oidc-bridge logs users in to Qlik Sense with an OpenID Connect provider.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `qlik-oidc-bridge logs users in to Qlik Sense with an OpenID Connect provider.

Usage:
  qlik-oidc-bridge serve --config FILE   run the bridge
  qlik-oidc-bridge check --config FILE   validate a configuration and reach the IdP and Qlik
  qlik-oidc-bridge map [flags]           dry run: what a login's claims become in Qlik
  qlik-oidc-bridge demo [flags]          run a self-contained demo on this machine
  qlik-oidc-bridge login --bridge URL    sign in and print a Qlik session for scripts
  qlik-oidc-bridge logout --bridge URL   end the Qlik session that login keeps
  qlik-oidc-bridge keygen                print a new cookie key
  qlik-oidc-bridge version               print the version

Run "qlik-oidc-bridge COMMAND --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "qlik-oidc-bridge:", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "check":
		return check(ctx, args, stdout, stderr)
	case "map":
		return mapCommand(args, stdout, stderr)
	case "demo":
		return demo(ctx, args, stdout, stderr)
	case "keygen":
		if len(args) > 0 {
			fmt.Fprintln(stdout, "qlik-oidc-bridge keygen prints a new cookie key (32 random "+
				"bytes in base64) for cookie_keys; it takes no flags.")
			return nil
		}
		return keygen(stdout)
	case "login":
		return login(ctx, args, stdout, stderr)
	case "logout":
		return logoutCommand(ctx, args, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "qlik-oidc-bridge", buildVersion())
		return nil
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func configFlag(name string, args []string, stdout, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("config", "", "the YAML configuration `file` (see config.example.yaml)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return "", err
	}
	if *path == "" {
		fs.Usage()
		return "", errors.New(name + ": --config is required")
	}
	return *path, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("serve", args, stdout, stderr)
	if err != nil {
		return err
	}
	cfg, err := bridge.Load(path)
	if err != nil {
		return err
	}
	srv, err := bridge.New(ctx, cfg, bridge.Options{})
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("check", args, stdout, stderr)
	if err != nil {
		return err
	}
	cfg, err := bridge.Load(path)
	if err != nil {
		return err
	}
	return bridge.Check(ctx, cfg, stdout)
}

func keygen(stdout io.Writer) error {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(k[:]))
	return nil
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
