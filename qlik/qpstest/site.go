package qpstest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Site is a simulated Qlik site: the certificate authority that signs the certificates of
// its proxy nodes, and the client files the QMC exports from it. Several nodes started with
// the same Site (Config.Site) trust the same client certificate and present server
// certificates that root.pem verifies. A Site is immutable and safe for concurrent use.
// The zero value is not a site: use NewSite.
type Site struct {
	hostname string
	dir      string // CertDir as an absolute path
	ca       *authority
	certs    [3]string // client cert, client key, root CA
}

// NewSite creates a site's CA, CN=<hostname>-CA, and writes client.pem, client_key.pem
// (mode 0600) and root.pem into certDir, which is created if missing. certDir is required;
// hostname "" means "localhost". The hostname names only the CA, as the central node's
// name does in Qlik; each node's server certificate carries its own Config.Hostname.
func NewSite(certDir, hostname string) (*Site, error) {
	if certDir == "" {
		return nil, errors.New("qpstest: the site's CertDir is required")
	}
	if hostname == "" {
		hostname = DefaultHostname
	}
	dir, err := filepath.Abs(certDir)
	if err != nil {
		return nil, fmt.Errorf("qpstest: CertDir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("qpstest: create CertDir: %w", err)
	}
	ca, err := newAuthority(hostname + "-CA")
	if err != nil {
		return nil, err
	}
	st := &Site{hostname: hostname, dir: dir, ca: ca}
	if err := st.writeFiles(certDir); err != nil {
		return nil, err
	}
	return st, nil
}

// writeFiles issues the client certificate and writes the QMC-style files into dir.
func (st *Site) writeFiles(dir string) error {
	client, err := st.ca.issueClient()
	if err != nil {
		return err
	}
	certFile, keyFile, err := client.writeClientFiles(dir, ClientCertFile, ClientKeyFile)
	if err != nil {
		return err
	}
	rootFile := filepath.Join(dir, RootCAFile)
	if err := writePEM(rootFile, "CERTIFICATE", st.ca.cert.Raw, 0o644); err != nil {
		return err
	}
	st.certs = [3]string{certFile, keyFile, rootFile}
	return nil
}

// CertFiles returns the paths of the site's client.pem, client_key.pem and root.pem.
func (st *Site) CertFiles() (clientCert, clientKey, rootCA string) {
	return st.certs[0], st.certs[1], st.certs[2]
}

// Hostname returns the host name the site's CA is named after: CN=<Hostname>-CA.
func (st *Site) Hostname() string { return st.hostname }

// checkCertDir accepts a node's Config.CertDir for this site: "" or the site's own
// directory. A node has no files of its own, so another directory is a mistake.
func (st *Site) checkCertDir(certDir string) error {
	if certDir == "" {
		return nil
	}
	dir, err := filepath.Abs(certDir)
	if err != nil || dir != st.dir {
		return fmt.Errorf("qpstest: CertDir %q is not the site's; leave it empty", certDir)
	}
	return nil
}
