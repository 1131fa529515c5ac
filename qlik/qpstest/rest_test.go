package qpstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestXrfkeyRefused(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	cases := []struct {
		name, query, header string
		rawQuery            string // replaces the query when set
	}{
		{name: "both missing"},
		{name: "query missing", header: goodKey},
		{name: "header missing", query: goodKey},
		{name: "mismatched", query: goodKey, header: "abcdefghijKLMNOQ"},
		{name: "differ in case only", query: goodKey, header: strings.ToLower(goodKey)},
		{name: "15 characters", query: goodKey[:15], header: goodKey[:15]},
		{name: "17 characters", query: goodKey + "x", header: goodKey + "x"},
		{name: "wrong charset", query: "abcdefghij-KLMNO", header: "abcdefghij-KLMNO"},
		{name: "non-ASCII", query: "abcdefghijKLMNÖ", header: "abcdefghijKLMNÖ"},
		{name: "query name capitalised", header: goodKey, rawQuery: "Xrfkey=" + goodKey},
		{name: "two query values", header: goodKey,
			rawQuery: "xrfkey=" + goodKey + "&xrfkey=" + goodKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			if tc.rawQuery != "" {
				req, _ := http.NewRequest(http.MethodGet, e.s.RESTURL()+"/qps/alive?"+tc.rawQuery, nil)
				req.Header.Set("X-Qlik-Xrfkey", tc.header)
				r = send(t, e.rest, req)
			} else {
				r = e.raw(t, http.MethodGet, "/qps/alive", "", tc.query, tc.header)
			}
			if r.status != http.StatusForbidden || r.body != XrfkeyFailure {
				t.Fatalf("got %d %q, want 403 %q", r.status, r.body, XrfkeyFailure)
			}
		})
	}
}

func TestXrfkeyRefusedBeforeAnythingElse(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	body := `{"UserDirectory":"CORP","UserId":"alice","SessionId":"s-1"}`
	r := e.raw(t, http.MethodPost, "/qps/bi/session", body, goodKey, "")
	if r.status != http.StatusForbidden || r.body != XrfkeyFailure {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	if n := len(e.s.Sessions()); n != 0 {
		t.Fatalf("a refused call created %d sessions", n)
	}
}

func TestRequestsRecorded(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	e.call(t, http.MethodGet, "/qps/alive", "")
	e.raw(t, http.MethodGet, "/qps/alive", "", goodKey, "")
	got := e.s.Requests()
	want := []Request{
		{Method: "GET", Path: "/qps/alive", QueryXrfkey: goodKey, HeaderXrfkey: goodKey, Status: 200},
		{Method: "GET", Path: "/qps/alive", QueryXrfkey: goodKey, Status: 403},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Requests() = %+v, want %+v", got, want)
	}
}

func TestAlive(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	r := e.call(t, http.MethodGet, "/qps/alive", "")
	if r.status != http.StatusOK || r.body != "true" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := start(t, Config{VirtualProxies: []VirtualProxy{{Prefix: "bi"}}})
	cases := []struct {
		name, method, path string
		want               int
	}{
		{"prefix with capitals", "GET", "/qps/BI/session/x", http.StatusBadRequest},
		{"prefix with one capital", "POST", "/qps/Bi/ticket", http.StatusBadRequest},
		{"unknown prefix", "GET", "/qps/sales/session/x", http.StatusNotFound},
		{"default proxy not configured", "GET", "/qps/session/x", http.StatusNotFound},
		{"alive under a prefix", "GET", "/qps/bi/alive", http.StatusNotFound},
		{"error under a prefix", "POST", "/qps/bi/error", http.StatusNotFound},
		{"unknown call", "GET", "/qps/bi/sessions", http.StatusNotFound},
		{"trailing slash", "GET", "/qps/bi/session/x/", http.StatusNotFound},
		{"outside /qps", "GET", "/bi/session/x", http.StatusNotFound},
		{"alive at node level", "GET", "/qps/alive", http.StatusOK},
		{"known prefix", "GET", "/qps/bi/session/x", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.call(t, tc.method, tc.path, ""); r.status != tc.want {
				t.Fatalf("%s %s: got %d %q, want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	cases := []struct{ name, method, path, allow string }{
		{"PUT session", "PUT", "/qps/bi/session", "GET, POST"},
		{"POST session id", "POST", "/qps/bi/session/x", "GET, DELETE"},
		{"PUT user", "PUT", "/qps/bi/user/CORP/alice", "GET, DELETE"},
		{"GET ticket", "GET", "/qps/ticket", "POST"},
		{"POST alive", "POST", "/qps/alive", "GET"},
		{"GET error", "GET", "/qps/error", "POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.method, tc.path, "")
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
				t.Fatalf("got %d Allow %q, want 405 Allow %q", r.status, r.header.Get("Allow"), tc.allow)
			}
		})
	}
}

func TestPostSessionReply(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	body := `{"UserDirectory":" CORP ","UserId":"  alice\t","SessionId":"s-1",
		"Attributes":[{"Group":"Sales"},{"Group":"EMEA"},{"email":""}]}`
	r := e.call(t, http.MethodPost, "/qps/bi/session", body)
	if r.status != http.StatusCreated {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	wantKeys := []string{"Attributes", "NewUser", "SessionId", "UserDirectory", "UserId"}
	if got := keysOf(t, r.body); !slices.Equal(got, wantKeys) {
		t.Fatalf("keys %v, want %v", got, wantKeys)
	}
	want := `{"UserDirectory":"CORP","UserId":"alice",` +
		`"Attributes":[{"Group":"Sales"},{"Group":"EMEA"},{"email":""}],` +
		`"SessionId":"s-1","NewUser":true}`
	if r.body != want {
		t.Fatalf("body\n%s\nwant\n%s", r.body, want)
	}

	// A second session for the same user, in other case, is not a new user.
	r = e.call(t, http.MethodPost, "/qps/session",
		`{"UserDirectory":"corp","UserId":"ALICE","SessionId":"s-2"}`)
	if !strings.HasSuffix(r.body, `"Attributes":[],"SessionId":"s-2","NewUser":false}`) {
		t.Fatalf("second session: %s", r.body)
	}
}

func TestSessionReplyShapes(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "bi", "CORP", "alice", `[{"Group":"Sales"}]`)
	other := e.addSession(t, "bi", "CORP", "alice", `[]`)
	sessionKeys := []string{"Attributes", "SessionId", "UserDirectory", "UserId"}

	t.Run("GET session/{id}", func(t *testing.T) {
		r := e.call(t, "GET", "/qps/bi/session/"+id, "")
		if r.status != 200 || !slices.Equal(keysOf(t, r.body), sessionKeys) {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("GET session/{id} unknown is null", func(t *testing.T) {
		r := e.call(t, "GET", "/qps/bi/session/no-such-id", "")
		if r.status != 200 || r.body != "null" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("GET session/{id} of another virtual proxy is null", func(t *testing.T) {
		if r := e.call(t, "GET", "/qps/session/"+id, ""); r.body != "null" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("GET session lists the proxy's sessions", func(t *testing.T) {
		assertSessionArray(t, e.call(t, "GET", "/qps/bi/session", ""), id, other)
	})
	t.Run("GET user", func(t *testing.T) {
		assertSessionArray(t, e.call(t, "GET", "/qps/bi/user/corp/Alice", ""), id, other)
	})
	t.Run("GET user without sessions is an empty array", func(t *testing.T) {
		if r := e.call(t, "GET", "/qps/bi/user/CORP/bob", ""); r.body != "[]" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("DELETE session/{id}", func(t *testing.T) {
		r := e.call(t, "DELETE", "/qps/bi/session/"+id, "")
		if r.status != 200 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if got := keysOf(t, r.body); !slices.Equal(got, []string{"LastSessionForUser", "Session"}) {
			t.Fatalf("keys %v", got)
		}
		var m struct {
			Session            json.RawMessage
			LastSessionForUser bool
		}
		json.Unmarshal([]byte(r.body), &m)
		if !slices.Equal(keysOf(t, string(m.Session)), sessionKeys) || m.LastSessionForUser {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("DELETE session/{id} unknown is 404", func(t *testing.T) {
		if r := e.call(t, "DELETE", "/qps/bi/session/"+id, ""); r.status != 404 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("DELETE user without sessions is an empty array", func(t *testing.T) {
		if r := e.call(t, "DELETE", "/qps/bi/user/CORP/bob", ""); r.status != 200 || r.body != "[]" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
	})
	t.Run("DELETE user returns the removed sessions", func(t *testing.T) {
		assertSessionArray(t, e.call(t, "DELETE", "/qps/bi/user/CORP/alice", ""), other)
		if n := len(e.s.Sessions()); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
	})
}

func TestDeleteLastSessionForUser(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	id := e.addSession(t, "", "CORP", "alice", `[]`)
	r := e.call(t, "DELETE", "/qps/session/"+id, "")
	if !strings.HasSuffix(r.body, `"LastSessionForUser":true}`) {
		t.Fatalf("got %s", r.body)
	}
}

func assertSessionArray(t *testing.T, r reply, ids ...string) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatalf("not an array: %s", r.body)
	}
	var got []string
	for _, s := range list {
		var id string
		json.Unmarshal(s["SessionId"], &id)
		got = append(got, id)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("session ids %v, want %v", got, ids)
	}
}

func TestSessionInputRefused(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	cases := []struct{ name, body, want string }{
		{"backslash in UserDirectory",
			`{"UserDirectory":"CORP\\alice","UserId":"alice","SessionId":"a"}`, "backslash"},
		{"backslash in UserId",
			`{"UserDirectory":"CORP","UserId":"CORP\\alice","SessionId":"a"}`, "backslash"},
		{"UserDirectory missing", `{"UserId":"alice","SessionId":"a"}`, "UserDirectory is required"},
		{"UserId only whitespace",
			`{"UserDirectory":"CORP","UserId":" \t ","SessionId":"a"}`, "UserId is required"},
		{"UserId not a string",
			`{"UserDirectory":"CORP","UserId":7,"SessionId":"a"}`, "expected JSON"},
		{"SessionId missing", `{"UserDirectory":"CORP","UserId":"alice"}`, "SessionId is required"},
		{"SessionId with a space",
			`{"UserDirectory":"CORP","UserId":"alice","SessionId":"a b"}`, "cookie-safe"},
		{"Attributes an object", attrBody(`{"Group":"Sales"}`), "Attributes must be an array"},
		{"Attributes a string", attrBody(`"Sales"`), "Attributes must be an array"},
		{"attribute with two keys", attrBody(`[{"Group":"Sales","email":"a@x"}]`), "exactly one key"},
		{"attribute key repeated in one object", attrBody(`[{"Group":"A","Group":"B"}]`),
			"exactly one key"},
		{"attribute with no key", attrBody(`[{}]`), "exactly one key"},
		{"attribute value a number", attrBody(`[{"Group":1}]`), "exactly one key"},
		{"attribute value null", attrBody(`[{"Group":null}]`), "exactly one key"},
		{"attribute value an array", attrBody(`[{"Group":["A"]}]`), "exactly one key"},
		{"attribute a bare string", attrBody(`["Sales"]`), "exactly one key"},
		{"attribute key empty", attrBody(`[{"":"Sales"}]`), "key must not be empty"},
		{"unknown field",
			`{"UserDirectory":"CORP","UserId":"alice","SessionId":"a","Groups":[]}`, "unknown field"},
		{"trailing data",
			`{"UserDirectory":"CORP","UserId":"alice","SessionId":"a"}{}`, "after the JSON"},
		{"malformed", `{"UserDirectory":"CORP",`, "expected JSON"},
		{"an array", `[]`, "expected JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, http.MethodPost, "/qps/bi/session", tc.body)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
				t.Fatalf("got %d %q, want 400 containing %q", r.status, r.body, tc.want)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
	if n := len(e.s.Sessions()); n != 0 {
		t.Fatalf("refused calls created %d sessions", n)
	}
}

func attrBody(attrs string) string {
	return `{"UserDirectory":"CORP","UserId":"alice","SessionId":"a","Attributes":` + attrs + `}`
}

func TestWrongContentTypeRefused(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
		t.Run("Content-Type "+ct, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost,
				e.s.RESTURL()+"/qps/ticket?xrfkey="+goodKey,
				strings.NewReader(`{"UserDirectory":"CORP","UserId":"alice"}`))
			req.Header.Set("X-Qlik-Xrfkey", goodKey)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if r := send(t, e.rest, req); r.status != http.StatusBadRequest {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
}

func TestInputFieldNamesCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	body := `{"userDirectory":"CORP","userid":"alice","SESSIONID":"s-1","attributes":[{"Group":"A"}]}`
	r := e.call(t, http.MethodPost, "/qps/bi/session", body)
	if r.status != http.StatusCreated || !strings.Contains(r.body, `"UserId":"alice"`) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestAttributesAccepted(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	cases := []struct{ name, attrs, want string }{
		{"absent", "", `[]`},
		{"null", `null`, `[]`},
		{"empty", `[]`, `[]`},
		{"keys repeat, values empty", `[{"Group":"A"},{"Group":"A"},{"email":""}]`,
			`[{"Group":"A"},{"Group":"A"},{"email":""}]`},
		{"UTF-8", `[{"name":"zoë ångström"}]`, `[{"name":"zoë ångström"}]`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"UserDirectory":"CORP","UserId":"alice","SessionId":"s` + string(rune('a'+i)) + `"`
			if tc.attrs != "" {
				body += `,"Attributes":` + tc.attrs
			}
			r := e.call(t, http.MethodPost, "/qps/bi/session", body+"}")
			if r.status != http.StatusCreated || !strings.Contains(r.body, `"Attributes":`+tc.want) {
				t.Fatalf("got %d %s, want Attributes %s", r.status, r.body, tc.want)
			}
		})
	}
}

func TestDuplicateSessionIDConflict(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	body := `{"UserDirectory":"CORP","UserId":"alice","SessionId":"same"}`
	if r := e.call(t, http.MethodPost, "/qps/bi/session", body); r.status != http.StatusCreated {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	other := `{"UserDirectory":"CORP","UserId":"bob","SessionId":"same"}`
	for _, path := range []string{"/qps/bi/session", "/qps/session"} {
		if r := e.call(t, http.MethodPost, path, other); r.status != http.StatusConflict {
			t.Fatalf("%s: got %d %s, want 409", path, r.status, r.body)
		}
	}
	if s := e.s.Sessions(); len(s) != 1 || s[0].UserID != "alice" {
		t.Fatalf("sessions %+v", s)
	}
}

func TestTicketReply(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	r := e.call(t, http.MethodPost, "/qps/bi/ticket",
		`{"UserDirectory":"CORP","UserId":"alice","Attributes":[{"Group":"Sales"}]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	want := []string{"Attributes", "Ticket", "UserDirectory", "UserId"}
	if got := keysOf(t, r.body); !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v (no TargetUri without a TargetId)", got, want)
	}
	var first struct{ Ticket string }
	json.Unmarshal([]byte(r.body), &first)
	if !validXrfkey(first.Ticket) { // 16 characters of [0-9A-Za-z]
		t.Fatalf("ticket %q", first.Ticket)
	}

	m := e.ticket(t, "bi", `{"UserDirectory":"CORP","UserId":"alice","TargetId":"unknown"}`)
	if _, ok := m["TargetUri"]; ok || m["TargetId"] != "unknown" {
		t.Fatalf("unknown TargetId: %v", m)
	}
	if m["Ticket"] == first.Ticket {
		t.Fatal("two tickets are equal")
	}
}

func TestTicketInputRefused(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	cases := []struct{ name, body string }{
		{"backslash", `{"UserDirectory":"CORP","UserId":"CORP\\alice"}`},
		{"UserId missing", `{"UserDirectory":"CORP"}`},
		{"SessionId is not a ticket field", `{"UserDirectory":"CORP","UserId":"a","SessionId":"x"}`},
		{"bad attributes", `{"UserDirectory":"CORP","UserId":"a","Attributes":[{"a":"1","b":"2"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.call(t, http.MethodPost, "/qps/bi/ticket", tc.body); r.status != 400 {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
}

func TestModuleError(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	r := e.call(t, http.MethodPost, "/qps/error",
		`{"UserDirectory":"CORP","UserId":"alice","Message":"login refused"}`)
	if r.status != http.StatusNoContent {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	got := e.s.ModuleErrors()
	if len(got) != 1 || got[0].Message != "login refused" || got[0].UserID != "alice" {
		t.Fatalf("ModuleErrors() = %+v", got)
	}
	if r := e.call(t, http.MethodPost, "/qps/error", `{"UserId":"alice"}`); r.status != 400 {
		t.Fatalf("without Message: got %d", r.status)
	}
}

func TestRESTHandlerInProcess(t *testing.T) {
	t.Parallel()
	e := start(t, Config{})
	ts := httptest.NewServer(e.s.RESTHandler())
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/qps/alive?xrfkey="+goodKey, nil)
	req.Header.Set("X-Qlik-Xrfkey", goodKey)
	if r := send(t, ts.Client(), req); r.status != 200 || r.body != "true" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
}
