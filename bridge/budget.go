package bridge

import (
	"fmt"
	"slices"

	"github.com/qlik-oidc-bridge/qlik-oidc-bridge/qlik"
)

// fitBudget keeps the attributes within m.AttributesBudget bytes, measured as the JSON
// array the QPS receives (qlik.AttributesSize). The proxy forwards the attributes in the
// X-Qlik-Security header of every request, and a header over its limit (16 KB unless
// raised) breaks the session at its first page, so it is better refused here.
//
// The transforms' include and exclude filters have already run. Over the budget, "refuse"
// refuses the login; "truncate" drops group attributes from the end until the rest fits,
// noting what it dropped, and still refuses when the other attributes alone are too big.
// The groups in protect (those the access rules let in) are never dropped: a group that let
// the user in must reach Qlik too.
func (m *Mapping) fitBudget(attrs []sentAttribute, protect []string,
	res *MapResult) ([]sentAttribute, error) {
	size := attributesSize(attrs)
	if size <= m.AttributesBudget {
		return attrs, nil
	}
	groups := 0
	for _, a := range attrs {
		if a.Key == m.GroupAttribute {
			groups++
		}
	}
	if m.OverBudget == overTruncate {
		kept, dropped := m.dropGroups(attrs, protect)
		if len(dropped) > 0 && attributesSize(kept) <= m.AttributesBudget {
			res.Notes = append(res.Notes, fmt.Sprintf("attributes_budget: %d bytes of "+
				"attributes exceed %d; dropped the last %d of %d %s attributes: %s", size,
				m.AttributesBudget, len(dropped), groups, m.GroupAttribute, listSome(dropped)))
			return kept, nil
		}
	}
	return nil, &refusal{
		Reason: fmt.Sprintf("you are in too many groups for Qlik: %d attributes with %d "+
			"groups take %d bytes, more than the %d Qlik is set up to take; ask your "+
			"administrator to filter the groups sent to Qlik", len(attrs), groups, size,
			m.AttributesBudget),
		Rule: "mapping.attributes_budget (over_budget: " + m.OverBudget + ")",
	}
}

// dropGroups drops group attributes, last first, until the rest fits the budget; it never
// drops one whose value is in protect. It runs in linear time: a token can carry a great
// many groups.
func (m *Mapping) dropGroups(attrs []sentAttribute, protect []string) (kept []sentAttribute,
	dropped []string) {
	size := attributesSize(attrs)
	drop := make([]bool, len(attrs))
	for i := len(attrs) - 1; i >= 0 && size > m.AttributesBudget; i-- {
		a := attrs[i]
		if a.Key != m.GroupAttribute || slices.Contains(protect, a.Value) {
			continue
		}
		size -= attributeSize(a.Attribute) + 1 // and its comma
		drop[i] = true
	}
	for i, a := range attrs {
		if drop[i] {
			dropped = append(dropped, a.Value)
		} else {
			kept = append(kept, a)
		}
	}
	return kept, dropped
}

func attributesSize(attrs []sentAttribute) int {
	plain := make([]qlik.Attribute, len(attrs))
	for i, a := range attrs {
		plain[i] = a.Attribute
	}
	return qlik.AttributesSize(plain)
}

// attributeSize is the size of one attribute as a JSON object.
func attributeSize(a qlik.Attribute) int {
	return qlik.AttributesSize([]qlik.Attribute{a}) - 2
}
