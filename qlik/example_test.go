package qlik_test

import (
	"context"
	"log"
	"time"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// A bridge loads the QMC's certificate files once, then adds a session on a node.
func ExampleNode_AddSession() {
	creds, err := qlik.LoadCredentials(qlik.CertFiles{
		ClientCert: "certs/client.pem",
		ClientKey:  "certs/client_key.pem",
		RootCA:     "certs/root.pem",
	})
	if err != nil {
		log.Fatal(err)
	}
	node, err := qlik.NewNode(qlik.NodeConfig{
		URL:     "https://qs-node.example.com:4243",
		Timeout: 5 * time.Second,
	}, creds)
	if err != nil {
		log.Fatal(err)
	}
	id := qlik.Identity{UserDirectory: "CORP", UserID: "alice",
		Attributes: []qlik.Attribute{{Key: "Group", Value: "Sales"}}}
	// The session id is the module's choice: a random v4 UUID in practice.
	session, err := node.AddSession(context.Background(), "bi", id, "9b2f0c1e-...")
	if err != nil {
		log.Fatal(err)
	}
	log.Println("added", session)
}
