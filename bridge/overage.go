package bridge

import (
	"fmt"
	"strings"
)

// checkDistributed refuses a login whose claim name is absent because the provider sent
// it as a distributed claim (OpenID Connect Core 5.6.2): "_claim_names" names it and
// "_claim_sources" says where to fetch it. Such a claim is never read as empty. Microsoft
// Entra ID does this with groups when a user is in too many ("groups overage"), and marks
// the same case with "hasgroups": true in tokens from the implicit flow.
//
// The bridge fetches nothing: the endpoint named in the token is chosen by whoever made
// the token, and Entra's is the retired Azure AD Graph. The user is refused with what to
// change at the identity provider. isGroups picks the wording for the groups claim.
func checkDistributed(cs claimSet, name, setting string, isGroups bool) error {
	top := name
	if strings.HasPrefix(name, "/") {
		if ptr, err := parsePointer(name); err == nil {
			top = ptr[0]
		}
	}
	v, _, _ := cs.top("_claim_names")
	names, _ := v.(map[string]any)
	_, distributed := names[top]
	hasGroups, _, _ := cs.top("hasgroups")
	if isGroups && (hasGroups == true || hasGroups == "true") {
		distributed = true
	}
	if !distributed {
		return nil
	}
	if isGroups {
		return &refusal{
			Reason: "it did not send your groups (a groups overage: you are in more groups " +
				"than Microsoft Entra ID puts into a sign-in); ask your administrator to have " +
				"the app registration send only the groups assigned to the application, or " +
				"app roles",
			Rule: setting + fmt.Sprintf(" (groups overage: %q is a distributed claim; in the "+
				"Entra app registration's token configuration emit \"Groups assigned to the "+
				"application\" (groupMembershipClaims: ApplicationGroup) or map app roles "+
				"with groups_claim: roles; the bridge never fetches the token's link)", top),
		}
	}
	return &refusal{
		Reason: fmt.Sprintf("it sent a link to the claim %q instead of its value; ask your "+
			"administrator to have it put the claim into the token", top),
		Rule: setting + fmt.Sprintf(" (%q is a distributed claim; the bridge never fetches "+
			"it: configure the identity provider to send it in the ID token or userinfo)", top),
	}
}
