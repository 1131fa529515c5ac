package qlik

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Error is a QPS answer other than the expected status. The zero value reports status 0.
type Error struct {
	Op     string // the call, e.g. "AddSession"
	URL    string // the address called, without the query and with any session id left out
	Status int    // the HTTP status code
	Body   string // at most 512 bytes of an error answer; empty for a 2xx answer
	Hint   string // what to check, for the operator; may be empty
}

// Error describes the answer with its hint; it never holds the query or a session id.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "qlik: %s %s: status %d", e.Op, e.URL, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %q", e.Body)
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// TLSError is a failed TLS connection to a node. It says which certificate file the failure
// concerns and, for a name mismatch, the names the node's certificate holds. The zero value
// reports an unspecified failure.
type TLSError struct {
	Node  string   // the node's host and port
	File  string   // the certificate file concerned (root.pem or client.pem); "" when none
	Names []string // on a name mismatch, the names the node's certificate holds
	Err   error    // the underlying failure
	Hint  string   // what to check, for the operator
}

// Error describes the failure with its hint and the file concerned.
func (e *TLSError) Error() string {
	msg := "qlik: tls: "
	if e.Node != "" {
		msg = "qlik: tls with " + e.Node + ": "
	}
	if e.Err != nil {
		msg += e.Err.Error()
	} else {
		msg += "connection failed"
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	if e.File != "" {
		msg += " (file " + e.File + ")"
	}
	return msg
}

// Unwrap returns Err.
func (e *TLSError) Unwrap() error { return e.Err }

// maxErrorBody is how much of an error answer Error.Body keeps.
const maxErrorBody = 512

func statusError(op, shownURL string, status int, body []byte, xrfkey, sessionID string) *Error {
	e := &Error{Op: op, URL: shownURL, Status: status, Hint: statusHint(status)}
	if status >= 300 {
		e.Body = errorBody(body, xrfkey, sessionID)
	}
	return e
}

// errorBody keeps at most maxErrorBody bytes of valid UTF-8, without the key and session id
// that the answer may echo.
func errorBody(body []byte, xrfkey, sessionID string) string {
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = strings.ReplaceAll(s, xrfkey, "[xrfkey]")
	if sessionID != "" {
		s = strings.ReplaceAll(s, sessionID, "[session id]")
	}
	s = strings.TrimSpace(s)
	if len(s) > maxErrorBody {
		s = strings.ToValidUTF8(s[:maxErrorBody], "")
	}
	return s
}

func statusHint(status int) string {
	switch {
	case status == http.StatusForbidden:
		return "check the Xrfkey and the client certificate " +
			"(client.pem / client_key.pem exported from the QMC for this site)"
	case status == http.StatusBadRequest:
		return "check that the virtual proxy prefix is lowercase and that UserDirectory and " +
			"UserId are set, not only white space and without a backslash"
	case status == http.StatusNotFound:
		return "check the virtual proxy prefix (lowercase, as set in the QMC, and linked to " +
			"this proxy node) and the node URL (port 4243)"
	case status >= 500:
		return "the proxy service failed; see the proxy log on the node"
	default:
		return "unexpected answer from the proxy service"
	}
}

// clientCertAlerts are the alerts by which a node refuses the client certificate.
var clientCertAlerts = []string{
	"bad certificate", "unsupported certificate", "revoked certificate",
	"expired certificate", "unknown certificate", "unknown certificate authority",
	"access denied", "certificate required",
}

// transportError turns a failed round trip into an error that names the call but not the
// query, and into a *TLSError when the node refused the client certificate.
func (n *Node) transportError(op, shownURL string, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // drop the *url.Error, whose text holds the query
	}
	if te, ok := errors.AsType[*TLSError](err); ok {
		e := *te
		e.Node = n.base.Host
		return &e
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" {
		for _, a := range clientCertAlerts {
			if oe.Err != nil && oe.Err.Error() == "tls: "+a {
				return &TLSError{Node: n.base.Host, File: n.creds.files.ClientCert, Err: err,
					Hint: "the node refused the client certificate; export client.pem and " +
						"client_key.pem from the QMC of this site"}
			}
		}
	}
	return fmt.Errorf("qlik: %s %s: %w", op, shownURL, err)
}
