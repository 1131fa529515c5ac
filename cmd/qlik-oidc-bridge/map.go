package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/oidc"
	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// mapOutput is what the map command prints: the identity as the QPS would receive it,
// with the source of each part, or the refusal.
type mapOutput struct {
	Proxy    string          `json:"proxy"`
	Identity *qpsIdentity    `json:"identity,omitempty"`
	Sources  *bridge.Sources `json:"sources,omitempty"`
	Refused  *refusedOutput  `json:"refused,omitempty"`
	Notes    []string        `json:"notes"`
	// SettingsNotes says where a login would read other claims than those given.
	SettingsNotes []string `json:"settings_notes,omitempty"`
}

// qpsIdentity has the fields of the QPS's session and ticket requests.
type qpsIdentity struct {
	UserDirectory string           `json:"UserDirectory"`
	UserID        string           `json:"UserId"`
	Attributes    []qlik.Attribute `json:"Attributes"`
}

type refusedOutput struct {
	Reason string `json:"reason"`
	Rule   string `json:"rule"`
}

// mapCommand prints what the claims in files become for a virtual proxy, with the same
// code as a login, without reaching the identity provider or Qlik.
func mapCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("map", flag.ContinueOnError)
	config := fs.String("config", "", "the YAML configuration `file` (see config.example.yaml)")
	idToken := fs.String("claims", "", "the ID token's claims as a JSON `file` (required)")
	userinfo := fs.String("userinfo", "", "the userinfo claims as a JSON `file`")
	accessToken := fs.String("access-token", "", "the access token's claims as a JSON `file`")
	prefix := fs.String("proxy", "", "the virtual proxy's `prefix` (default: the first listed)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *config == "" || *idToken == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("map: --config and --claims are required, and nothing else")
	}
	cfg, err := bridge.Load(*config)
	if err != nil {
		return err
	}
	if !flagGiven(fs, "proxy") {
		*prefix = cfg.Qlik.VirtualProxies[0].Prefix
	}
	var in bridge.Claims
	for _, f := range []struct {
		path string
		to   *map[string]any
	}{{*idToken, &in.IDToken}, {*userinfo, &in.Userinfo}, {*accessToken, &in.AccessToken}} {
		if f.path == "" {
			continue
		}
		if *f.to, err = readClaims(f.path); err != nil {
			return err
		}
	}

	res, err := bridge.MapClaims(cfg, *prefix, in)
	var refusal *bridge.Refusal
	if err != nil && !errors.As(err, &refusal) {
		return err
	}
	out := mapOutput{Proxy: *prefix, Notes: res.Notes,
		SettingsNotes: bridge.SourceNotes(cfg, *prefix, in)}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	if refusal != nil {
		out.Refused = &refusedOutput{Reason: refusal.Reason, Rule: refusal.Rule}
	} else {
		id := res.Identity
		out.Identity = &qpsIdentity{id.UserDirectory, id.UserID, id.Attributes}
		out.Sources = &res.Sources
	}
	if err := writeJSON(stdout, out); err != nil {
		return err
	}
	if refusal != nil {
		return fmt.Errorf("map: the login would be refused by %s", refusal.Rule)
	}
	return nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// readClaims reads claims saved from a login, decoded as a login decodes them.
func readClaims(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	claims, err := oidc.ParseClaims(b)
	if err != nil {
		return nil, fmt.Errorf("map: %s: %w", path, err)
	}
	return claims, nil
}

// writeJSON writes v indented, with each single-key object (an attribute) on one line.
func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(oneLineAttribute.ReplaceAll(b.Bytes(), []byte("{$1}")))
	return err
}

// oneLineAttribute matches an indented object with one string member.
var oneLineAttribute = regexp.MustCompile(`\{\n\s+("(?:[^"\\]|\\.)*": "(?:[^"\\]|\\.)*")\n\s+\}`)
