package bridge_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/bridge"
)

// check tries every part even when one fails: a provider that is down does not hide the
// state of the proxy nodes.
func TestCheckTriesEveryPart(t *testing.T) {
	var text string
	e := newEnv(t, envOptions{nodes: 2, config: func(s string) string { text = s; return s }})
	e.nodes[1].Close()
	down := "https://" + freePort(t)
	cfg, err := bridge.Parse([]byte(strings.Replace(text, e.idpSrv.URL, down, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = bridge.Check(context.Background(), cfg, &out)
	got := out.String()
	for _, want := range []string{"ok   qlik certificates",
		"ok   qlik node " + strings.TrimPrefix(e.nodes[0].RESTURL(), "https://"),
		"FAIL qlik node " + strings.TrimPrefix(e.nodes[1].RESTURL(), "https://"),
		"FAIL identity provider " + down} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if err == nil {
		t.Error("no error")
	}
}
