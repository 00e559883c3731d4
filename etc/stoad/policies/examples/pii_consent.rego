# Example: paths containing /pii/ (or ending in /pii) are refused unless the consumer's consent
# is recorded in data.stoa.pii_consent. The path is the normalised one (docs/policy.md), so
# /%70ii/, //pii/, /a/../pii/ and (on case-insensitive routes) /PII/ all arrive as /pii/.
# Select it with  [policy] query = data.stoa.examples.pii_consent.decision
package stoa.examples.pii_consent

import rego.v1

touches_pii if contains(concat("", [input.request.path, "/"]), "/pii/")

consented if data.stoa.pii_consent[input.consumer.id].granted == true

decision := {"allow": false, "reason": "personal data requested without recorded consent"} if {
	touches_pii
	not consented
} else := data.stoa.authz.decision
