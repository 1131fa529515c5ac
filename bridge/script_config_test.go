package bridge

import (
	"strings"
	"testing"
	"time"
)

// Script logins stay off unless the configuration turns them on.
func TestScriptsConfigDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimalConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Scripts
	if s.Enabled || s.DeviceFlow != DeviceFlowAuto || s.SessionTimeout != 30*time.Minute ||
		s.Proxies != nil {
		t.Errorf("defaults %+v", s)
	}
}

func TestScriptsConfigProblems(t *testing.T) {
	for _, tc := range []struct{ name, scripts, want string }{
		{"on", "{enabled: true, proxies: [bi], device_flow: off, session_timeout: 1h}", ""},
		{"empty proxy list", "{enabled: true, proxies: []}", ""},
		{"unknown device flow", "{device_flow: always}", "scripts.device_flow: must be auto or off"},
		{"short timeout", "{session_timeout: 10s}", "scripts.session_timeout: must be between"},
		{"unknown proxy", "{proxies: [bi, sales]}", `scripts.proxies[1]: "sales" is not`},
		{"unknown key", "{enable: true}", "field enable not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(minimalConfig(t) + "scripts: " + tc.scripts + "\n"))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
