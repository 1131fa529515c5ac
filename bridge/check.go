package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Check tries a configuration without serving it: it reads the QMC certificates, calls
// every proxy node, and runs OIDC discovery, writing one line per part to w. Every part is
// tried even when another fails, and the error joins the failures.
func Check(ctx context.Context, cfg *Config, w io.Writer) error {
	s := &Server{cfg: cfg, now: time.Now}
	if err := s.buildProxies(nil); err != nil {
		fmt.Fprintf(w, "FAIL qlik certificates: %v\n", err)
		return err
	}
	fmt.Fprintln(w, "ok   qlik certificates")
	var errs []error
	for _, p := range s.proxies {
		for _, n := range p.nodes {
			// The node-level alive call; whether a prefix also answers it is not documented.
			if err := n.Alive(ctx, ""); err != nil {
				errs = append(errs, err)
				fmt.Fprintf(w, "FAIL qlik node %s, virtual proxy %q: %v\n", n.URL().Host,
					p.cfg.Prefix, err)
				continue
			}
			fmt.Fprintf(w, "ok   qlik node %s, virtual proxy %q\n", n.URL().Host, p.cfg.Prefix)
		}
	}
	if _, err := s.relyingParty(ctx, nil); err != nil {
		errs = append(errs, err)
		fmt.Fprintf(w, "FAIL identity provider %s: %v\n", cfg.OIDC.Issuer, err)
	} else {
		fmt.Fprintf(w, "ok   identity provider %s (discovery)\n", cfg.OIDC.Issuer)
	}
	return errors.Join(errs...)
}
