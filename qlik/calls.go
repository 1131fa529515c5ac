package qlik

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Session is a proxy session as the QPS reports it. SessionID is the value of the session
// cookie: String and LogValue leave it out. The zero value is an empty session.
type Session struct {
	UserDirectory string      `json:"UserDirectory"`
	UserID        string      `json:"UserId"`
	Attributes    []Attribute `json:"Attributes"`
	SessionID     string      `json:"SessionId"`
	NewUser       bool        `json:"NewUser"` // set by AddSession: the user is new to the site
}

// String describes the session without its id.
func (s Session) String() string {
	return fmt.Sprintf("session of UserDirectory=%s; UserId=%s (%d attributes)",
		s.UserDirectory, s.UserID, len(s.Attributes))
}

// LogValue describes the session for log/slog without its id.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user_directory", s.UserDirectory),
		slog.String("user_id", s.UserID), slog.Int("attributes", len(s.Attributes)))
}

// Ticket is a single-use login ticket as the QPS issues it. Ticket is a credential: String and
// LogValue leave it out. The zero value holds no ticket.
type Ticket struct {
	UserDirectory string      `json:"UserDirectory"`
	UserID        string      `json:"UserId"`
	Attributes    []Attribute `json:"Attributes"`
	Ticket        string      `json:"Ticket"`
	TargetURI     string      `json:"TargetUri"` // set only when a known TargetId was sent
	TargetID      string      `json:"TargetId"`
}

// String describes the ticket without the ticket itself.
func (t Ticket) String() string {
	return fmt.Sprintf("ticket for UserDirectory=%s; UserId=%s to %q",
		t.UserDirectory, t.UserID, t.TargetURI)
}

// LogValue describes the ticket for log/slog without the ticket itself.
func (t Ticket) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user_directory", t.UserDirectory),
		slog.String("user_id", t.UserID), slog.String("target_uri", t.TargetURI))
}

type sessionRequest struct {
	UserDirectory string      `json:"UserDirectory"`
	UserID        string      `json:"UserId"`
	Attributes    []Attribute `json:"Attributes"`
	SessionID     string      `json:"SessionId"`
}

type ticketRequest struct {
	UserDirectory string      `json:"UserDirectory"`
	UserID        string      `json:"UserId"`
	Attributes    []Attribute `json:"Attributes"`
	TargetID      string      `json:"TargetId,omitempty"`
}

type logRequest struct {
	UserDirectory string `json:"UserDirectory,omitempty"`
	UserID        string `json:"UserId,omitempty"`
	Message       string `json:"Message"`
}

// AddSession adds a proxy session with the id sessionID for the identity, which is normalized
// first, through the virtual proxy prefix ("" is the default virtual proxy). The caller chooses
// sessionID; it must be unguessable and unique, e.g. a random v4 UUID.
func (n *Node) AddSession(ctx context.Context, prefix string, id Identity,
	sessionID string) (*Session, error) {
	id, err := id.Normalize()
	if err != nil {
		return nil, err
	}
	if err := checkID("session id", sessionID); err != nil {
		return nil, err
	}
	c := call{op: "AddSession", method: http.MethodPost, prefix: prefix,
		path: []string{"session"}, secret: sessionID, ok: []int{http.StatusCreated},
		body: sessionRequest{id.UserDirectory, id.UserID, attributes(id), sessionID}}
	var s Session
	if err := n.decode(ctx, c, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// RequestTicket requests a login ticket for the identity, which is normalized first. targetID
// is the targetId the proxy gave the browser, or "" for none; for a known one the reply's
// TargetURI is the page the user first asked for.
func (n *Node) RequestTicket(ctx context.Context, prefix string, id Identity,
	targetID string) (*Ticket, error) {
	id, err := id.Normalize()
	if err != nil {
		return nil, err
	}
	if targetID != "" {
		if err := checkID("target id", targetID); err != nil {
			return nil, err
		}
	}
	c := call{op: "RequestTicket", method: http.MethodPost, prefix: prefix,
		path: []string{"ticket"}, ok: []int{http.StatusCreated},
		body: ticketRequest{id.UserDirectory, id.UserID, attributes(id), targetID}}
	var t Ticket
	if err := n.decode(ctx, c, &t); err != nil {
		return nil, err
	}
	if t.Ticket == "" {
		return nil, errors.New("qlik: RequestTicket: the reply holds no ticket")
	}
	return &t, nil
}

// GetSession returns the session with the id sessionID, or nil and no error when the QPS
// answers null or 404 for an unknown id. A wrong prefix also answers 404: check it with Alive.
func (n *Node) GetSession(ctx context.Context, prefix, sessionID string) (*Session, error) {
	if err := checkID("session id", sessionID); err != nil {
		return nil, err
	}
	c := call{op: "GetSession", method: http.MethodGet, prefix: prefix,
		path: []string{"session", sessionID}, secret: sessionID,
		ok: []int{http.StatusOK, http.StatusNoContent, http.StatusNotFound}}
	status, body, err := n.do(ctx, c)
	if err != nil || status != http.StatusOK || len(bytes.TrimSpace(body)) == 0 {
		return nil, err
	}
	var s *Session // stays nil for null
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("qlik: GetSession: decode reply: %w", err)
	}
	return s, nil
}

// DeleteSession ends the session with the id sessionID. Any answer but 200 is an *Error,
// also for an id the QPS does not know.
func (n *Node) DeleteSession(ctx context.Context, prefix, sessionID string) error {
	if err := checkID("session id", sessionID); err != nil {
		return err
	}
	_, _, err := n.do(ctx, call{op: "DeleteSession", method: http.MethodDelete, prefix: prefix,
		path: []string{"session", sessionID}, secret: sessionID, ok: []int{http.StatusOK}})
	return err
}

// UserSessions returns the sessions of a user.
func (n *Node) UserSessions(ctx context.Context, prefix, userDirectory,
	userID string) ([]Session, error) {
	return n.userCall(ctx, "UserSessions", http.MethodGet, prefix, userDirectory, userID)
}

// DeleteUserSessions ends all sessions of a user and returns the sessions it ended.
func (n *Node) DeleteUserSessions(ctx context.Context, prefix, userDirectory,
	userID string) ([]Session, error) {
	return n.userCall(ctx, "DeleteUserSessions", http.MethodDelete, prefix, userDirectory, userID)
}

func (n *Node) userCall(ctx context.Context, op, method, prefix, userDirectory,
	userID string) ([]Session, error) {
	id, err := Identity{UserDirectory: userDirectory, UserID: userID}.Normalize()
	if err != nil {
		return nil, err
	}
	c := call{op: op, method: method, prefix: prefix, ok: []int{http.StatusOK},
		path: []string{"user", id.UserDirectory, id.UserID}}
	var sessions []Session
	if err := n.decode(ctx, c, &sessions); err != nil {
		return nil, err
	}
	return sessions, nil
}

// Alive checks that the node answers through the virtual proxy prefix: nil means it does.
func (n *Node) Alive(ctx context.Context, prefix string) error {
	_, _, err := n.do(ctx, call{op: "Alive", method: http.MethodGet, prefix: prefix,
		path: []string{"alive"}, ok: []int{http.StatusOK}})
	return err
}

// LogError writes message into the proxy log of the node. userDirectory and userID name the
// user the message concerns: give both, or neither.
func (n *Node) LogError(ctx context.Context, userDirectory, userID, message string) error {
	if message == "" {
		return errors.New("qlik: LogError: empty message")
	}
	body := logRequest{Message: message}
	if userDirectory != "" || userID != "" {
		id, err := Identity{UserDirectory: userDirectory, UserID: userID}.Normalize()
		if err != nil {
			return err
		}
		body.UserDirectory, body.UserID = id.UserDirectory, id.UserID
	}
	_, _, err := n.do(ctx, call{op: "LogError", method: http.MethodPost,
		path: []string{"error"}, body: body, ok: []int{http.StatusNoContent}})
	return err
}

// decode sends c and decodes the reply into out.
func (n *Node) decode(ctx context.Context, c call, out any) error {
	_, body, err := n.do(ctx, c)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("qlik: %s: decode reply: %w", c.op, err)
	}
	return nil
}

// attributes returns the identity's attributes, never nil, so that the QPS gets an array.
func attributes(id Identity) []Attribute {
	if id.Attributes == nil {
		return []Attribute{}
	}
	return id.Attributes
}
