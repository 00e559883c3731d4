package stoa.examples.pii_consent_test

import rego.v1

import data.stoa.examples.pii_consent

request(consumer, path) := {
	"request": {"method": "GET", "path": path},
	"route": {"name": "api"},
	"consumer": {"id": consumer, "agent_id": "a1", "tier": "standard"},
	"token": {"scopes": ["stoa:read"]},
}

test_pii_without_consent_is_denied if {
	not pii_consent.decision.allow with input as request("globex-analytics", "/api/pii/123")
}

test_pii_path_end_without_consent_is_denied if {
	not pii_consent.decision.allow with input as request("globex-analytics", "/api/pii")
}

test_pii_with_consent_is_allowed if {
	pii_consent.decision.allow with input as request("acme-support", "/api/pii/123")
}

test_unrecorded_consumer_is_denied if {
	not pii_consent.decision.allow with input as request("initech-batch", "/api/pii/1")
}

test_other_paths_follow_default_policy if {
	pii_consent.decision.allow with input as request("globex-analytics", "/api/pii-policy")
}
