package oidctest

// DemoUsers returns the demonstration accounts, each with its username as
// password: alice (groups Sales and EMEA), bob (group Finance) and carol
// (no groups claim at all). Each call returns fresh copies.
func DemoUsers() []User {
	return []User{
		{
			Username: "alice", Password: "alice",
			Claims: map[string]any{
				"name":               "Alice Andersson",
				"preferred_username": "alice",
				"email":              "alice@example.com",
				"email_verified":     true,
				"groups":             []string{"Sales", "EMEA"},
			},
		},
		{
			Username: "bob", Password: "bob",
			Claims: map[string]any{
				"name":               "Bob Brown",
				"preferred_username": "bob",
				"email":              "bob@example.com",
				"email_verified":     true,
				"groups":             []string{"Finance"},
			},
		},
		{
			Username: "carol", Password: "carol",
			Claims: map[string]any{
				"name":               "Carol Clark",
				"preferred_username": "carol",
				"email":              "carol@example.com",
				"email_verified":     true,
			},
		},
	}
}
