package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Check reaches every configured proxy node and writes one line per node to w. New has
// already read the certificates and run OIDC discovery by the time it is called.
func (s *Server) Check(ctx context.Context, w io.Writer) error {
	fmt.Fprintf(w, "ok   identity provider %s (discovery)\n", s.cfg.OIDC.Issuer)
	var errs []error
	for _, p := range s.proxies {
		for _, n := range p.nodes {
			// The node-level alive call; whether a prefix also answers it is not documented.
			err := n.Alive(ctx, "")
			if err != nil {
				errs = append(errs, err)
				fmt.Fprintf(w, "FAIL qlik node %s, virtual proxy %q: %v\n", n.URL().Host, p.cfg.Prefix, err)
				continue
			}
			fmt.Fprintf(w, "ok   qlik node %s, virtual proxy %q\n", n.URL().Host, p.cfg.Prefix)
		}
	}
	return errors.Join(errs...)
}
