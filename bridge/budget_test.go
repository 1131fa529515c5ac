package bridge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

func TestAttributeBudget(t *testing.T) {
	attrs := []sentAttribute{
		{qlik.Attribute{Key: "Group", Value: "a"}, "g"},   // {"Group":"a"} 13 bytes
		{qlik.Attribute{Key: "email", Value: "e@x"}, "e"}, // {"email":"e@x"} 15 bytes
		{qlik.Attribute{Key: "Group", Value: "bb"}, "g"},  // 14 bytes
		{qlik.Attribute{Key: "Group", Value: "ccc"}, "g"}, // 15 bytes
	}
	full := attributesSize(attrs) // 2 + 13+15+14+15 + 3 commas = 62
	if full != 62 {
		t.Fatalf("size = %d, want 62", full)
	}
	for _, tc := range []struct {
		name    string
		budget  int
		over    string
		protect []string // groups the access rules name
		want    []string // values kept; nil = refused
	}{
		{"exactly the budget", 62, overRefuse, nil, []string{"a", "e@x", "bb", "ccc"}},
		{"one byte over, refuse", 61, overRefuse, nil, nil},
		{"truncate drops the last group", 61, overTruncate, nil, []string{"a", "e@x", "bb"}},
		{"truncate drops groups only", 30, overTruncate, nil, []string{"e@x"}},
		{"refused when the rest is too big", 16, overTruncate, nil, nil},
		{"the group that let the user in stays", 61, overTruncate, []string{"ccc"},
			[]string{"a", "e@x", "ccc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := checked(t, &Mapping{UserDirectory: "D", AttributesBudget: tc.budget,
				OverBudget: tc.over})
			res := &MapResult{}
			kept, err := m.fitBudget(append([]sentAttribute(nil), attrs...), tc.protect, res)
			if tc.want == nil {
				wantRefusal(t, err, "too many groups", "mapping.attributes_budget")
				return
			}
			var got []string
			for _, a := range kept {
				got = append(got, a.Value)
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("kept %q, %v; want %q", got, err, tc.want)
			}
			if attributesSize(kept) > tc.budget {
				t.Errorf("kept %d bytes, over %d", attributesSize(kept), tc.budget)
			}
			if dropped := len(attrs) - len(kept); dropped > 0 && (len(res.Notes) != 1 ||
				!strings.Contains(res.Notes[0], fmt.Sprintf("dropped the last %d of 3", dropped))) {
				t.Errorf("notes = %q", res.Notes)
			}
		})
	}
}
