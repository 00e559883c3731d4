# Example: consumers are allowed while they made fewer calls in the last 60 s than their tier's
# limit in data.stoa.tier_limits (enterprise: 10,000). Over the limit the answer is 429.
# Select it with  [policy] query = data.stoa.examples.tier_limits.decision
package stoa.examples.tier_limits

import rego.v1

limit := data.stoa.tier_limits[input.consumer.tier].calls_per_60s

decision := {"allow": false, "reason": sprintf("tier %s has no call limit defined", [object.get(input, ["consumer", "tier"], "(none)")])} if {
	not limit
} else := {"allow": false, "status": 429, "reason": sprintf("%d calls in the last 60 s, limit %d for tier %s", [input.usage.calls_60s, limit, input.consumer.tier])} if {
	input.usage.calls_60s >= limit
} else := data.stoa.authz.decision
