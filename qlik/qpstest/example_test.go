package qpstest_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik/qpstest"
)

func ExampleStart() {
	dir, err := os.MkdirTemp("", "qpstest")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, err := qpstest.Start(qpstest.Config{
		CertDir: dir,
		VirtualProxies: []qpstest.VirtualProxy{
			{Prefix: "bi", AuthModuleRedirectURI: "https://bridge.localhost/login"},
		},
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	port := s.RESTURL()[strings.LastIndex(s.RESTURL(), ":")+1:]
	fmt.Println(strings.Replace(s.ProxyRestURI("bi"), port, "PORT", 1))
	fmt.Println(s.CookieName("bi"))
	// Output:
	// https://localhost:PORT/qps/bi/
	// X-Qlik-Session-bi-HTTP
}
