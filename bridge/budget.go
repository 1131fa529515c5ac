package bridge

import (
	"fmt"

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
func (m *Mapping) fitBudget(attrs []sentAttribute, res *MapResult) ([]sentAttribute, error) {
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
		kept, dropped := m.dropGroups(attrs)
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

// dropGroups drops group attributes from the end until the rest fits the budget.
func (m *Mapping) dropGroups(attrs []sentAttribute) (kept []sentAttribute, dropped []string) {
	kept = append([]sentAttribute(nil), attrs...)
	size := attributesSize(kept)
	for i := len(kept) - 1; i >= 0 && size > m.AttributesBudget; i-- {
		if kept[i].Key != m.GroupAttribute {
			continue
		}
		size -= attributeSize(kept[i].Attribute) + 1 // and its comma
		dropped = append([]string{kept[i].Value}, dropped...)
		kept = append(kept[:i], kept[i+1:]...)
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
