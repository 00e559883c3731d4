package stoa.examples.business_hours_test

import rego.v1

import data.stoa.examples.business_hours

# 2026-03-02 is a Monday; each time is nanoseconds since the epoch (UTC).
at(hh, mm) := (time.parse_rfc3339_ns("2026-03-02T00:00:00Z") + ((hh * 60) + mm) * 60000000000)

request(method) := {
	"request": {"method": method, "path": "/api/x"},
	"route": {"name": "api"},
	"consumer": {"id": "acme-support", "agent_id": "a1", "tier": "enterprise"},
	"token": {"scopes": ["stoa:read", "stoa:write"]},
}

test_get_at_0759_is_denied if {
	not business_hours.decision.allow with input as request("GET") with time.now_ns as at(7, 59)
}

test_get_at_0800_is_allowed if {
	business_hours.decision.allow with input as request("GET") with time.now_ns as at(8, 0)
}

test_get_at_1759_is_allowed if {
	business_hours.decision.allow with input as request("GET") with time.now_ns as at(17, 59)
}

test_get_at_1800_is_denied if {
	not business_hours.decision.allow with input as request("GET") with time.now_ns as at(18, 0)
}

test_post_at_night_follows_default_policy if {
	business_hours.decision.allow with input as request("POST") with time.now_ns as at(2, 0)
}
