package stoa.examples.tier_limits_test

import rego.v1

import data.stoa.examples.tier_limits

request(tier, calls) := {
	"request": {"method": "GET", "path": "/api/x"},
	"route": {"name": "api"},
	"consumer": {"id": "acme-support", "agent_id": "a1", "tier": tier},
	"token": {"scopes": ["stoa:read"]},
	"usage": {"calls_60s": calls, "calls_3600s": calls},
}

test_enterprise_at_9999_calls_is_allowed if {
	tier_limits.decision.allow with input as request("enterprise", 9999)
}

test_enterprise_at_10000_calls_is_rate_limited if {
	d := tier_limits.decision with input as request("enterprise", 10000)
	not d.allow
	d.status == 429
}

test_limits_come_from_data if {
	tier_limits.decision.allow with input as request("enterprise", 10000)
		with data.stoa.tier_limits.enterprise.calls_per_60s as 20000
}

test_free_tier_has_a_lower_limit if {
	not tier_limits.decision.allow with input as request("free", 60)
}

test_unknown_tier_is_denied if {
	d := tier_limits.decision with input as request("platinum", 0)
	not d.allow
	not d.status
}
