package qlik

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

func TestLoadCredentialsKeyFormats(t *testing.T) {
	ca := newCA(t, "site-CA")
	ecKey := newKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(key any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock("PRIVATE KEY", der)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	client := leaf{cn: "QlikClient", client: true}
	ecCert := pemBlock("CERTIFICATE", ca.sign(t, client, ecKey))
	rsaCert := pemBlock("CERTIFICATE", ca.sign(t, client, rsaKey))
	tests := []struct {
		name      string
		cert, key []byte
	}{
		{"PKCS#8 EC", ecCert, pkcs8(ecKey)},
		{"SEC 1 EC", ecCert, pemBlock("EC PRIVATE KEY", sec1)},
		{"PKCS#1 RSA", rsaCert, pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))},
		{"PKCS#8 RSA", rsaCert, pkcs8(rsaKey)},
		{"EC with parameters block", ecCert,
			append(pemBlock("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}),
				pemBlock("EC PRIVATE KEY", sec1)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := LoadCredentials(writeFiles(t, tc.cert, tc.key, ca.pem))
			if err != nil {
				t.Fatal(err)
			}
			if creds.Leaf() == nil || creds.Leaf().Subject.CommonName != "QlikClient" {
				t.Errorf("Leaf %v", creds.Leaf())
			}
		})
	}
}

func TestLoadCredentialsErrors(t *testing.T) {
	ca := newCA(t, "site-CA")
	cert, key := ca.issue(t, leaf{cn: "QlikClient", client: true})
	_, otherKey := ca.issue(t, leaf{cn: "Other", client: true})
	encPKCS8 := pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00})
	encPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF",
	}, Bytes: []byte{1, 2, 3}})
	tests := []struct {
		name            string
		cert, key, root []byte // nil: the file is missing
		file            string // the file the error names: client.pem, client_key.pem, root.pem
		want            string
	}{
		{"missing client.pem", nil, key, ca.pem, "client.pem", "no such file"},
		{"garbage client.pem", []byte("hello"), key, ca.pem, "client.pem", "no PEM CERTIFICATE"},
		{"corrupt certificate", pemBlock("CERTIFICATE", []byte("x")), key, ca.pem, "client.pem",
			"certificate 1"},
		{"missing key", cert, nil, ca.pem, "client_key.pem", "no such file"},
		{"garbage key", cert, []byte("garbage"), ca.pem, "client_key.pem", "no PEM PRIVATE KEY"},
		{"certificate as key", cert, cert, ca.pem, "client_key.pem", "only CERTIFICATE"},
		{"encrypted PKCS#8 key", cert, encPKCS8, ca.pem, "client_key.pem", "encrypted"},
		{"encrypted PKCS#1 key", cert, encPKCS1, ca.pem, "client_key.pem", "password empty"},
		{"key of another certificate", cert, otherKey, ca.pem, "client_key.pem", "does not match"},
		{"missing root.pem", cert, key, nil, "root.pem", "no such file"},
		{"garbage root.pem", cert, key, []byte("x"), "root.pem", "no PEM CERTIFICATE"},
		{"key as root.pem", cert, key, key, "root.pem", "no PEM CERTIFICATE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := writeFiles(t, tc.cert, tc.key, tc.root)
			for path, data := range map[string][]byte{
				files.ClientCert: tc.cert, files.ClientKey: tc.key, files.RootCA: tc.root,
			} {
				if data == nil {
					os.Remove(path)
				}
			}
			_, err := LoadCredentials(files)
			if err == nil {
				t.Fatal("loaded")
			}
			if tc.want == "no such file" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("got %v, want fs.ErrNotExist", err)
			}
			if !strings.Contains(err.Error(), "/"+tc.file) ||
				!strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want the %s path and %q", err, tc.file, tc.want)
			}
		})
	}
}

func TestLoadCredentialsNoFiles(t *testing.T) {
	if _, err := LoadCredentials(CertFiles{}); err == nil ||
		!strings.Contains(err.Error(), "no file given") {
		t.Errorf("got %v", err)
	}
}
