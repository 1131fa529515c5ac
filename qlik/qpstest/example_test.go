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

func ExampleNewSite() {
	dir, err := os.MkdirTemp("", "qpstest")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	site, err := qpstest.NewSite(dir, "central")
	if err != nil {
		panic(err)
	}
	vps := []qpstest.VirtualProxy{{Prefix: "bi"}}
	a, err := qpstest.Start(qpstest.Config{Site: site, VirtualProxies: vps})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	b, err := qpstest.Start(qpstest.Config{Site: site, VirtualProxies: vps})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	certA, _, _ := a.CertFiles()
	certB, _, _ := b.CertFiles()
	fmt.Println(certA == certB, a.RESTURL() != b.RESTURL())
	// Output:
	// true true
}
