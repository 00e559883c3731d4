package stoa.authz_test

import rego.v1

import data.stoa.authz

consumers := {"c1": {"routes": ["api"]}}

get_api := {
	"request": {"method": "GET", "path": "/api/x"},
	"route": {"name": "api"},
	"consumer": {"id": "c1", "agent_id": "a1", "tier": "standard"},
	"token": {"scopes": ["stoa:read"]},
}

test_registered_consumer_with_scope_is_allowed if {
	authz.decision.allow with input as get_api with data.stoa.consumers as consumers
}

test_no_consumer_is_denied if {
	d := authz.decision with input as object.remove(get_api, ["consumer"])
	not d.allow
	d.reason == "no verified consumer"
}

test_unregistered_consumer_is_denied if {
	not authz.decision.allow with input as object.union(get_api, {"consumer": {"id": "nobody"}})
		with data.stoa.consumers as consumers
}

test_route_outside_allow_list_is_denied if {
	d := authz.decision with input as object.union(get_api, {"route": {"name": "mcp"}})
		with data.stoa.consumers as consumers
	not d.allow
	d.reason == "route mcp is not allowed for consumer c1"
}

test_write_needs_write_scope if {
	post := object.union(get_api, {"request": {"method": "POST", "path": "/api/x"}})
	not authz.decision.allow with input as post with data.stoa.consumers as consumers
	authz.decision.allow with input as object.union(post, {"token": {"scopes": ["stoa:write"]}})
		with data.stoa.consumers as consumers
}

test_unmapped_method_is_denied if {
	trace_request := object.union(get_api, {"request": {"method": "TRACE", "path": "/api/x"}})
	not authz.decision.allow with input as trace_request with data.stoa.consumers as consumers
}

test_mcp_tool_call_needs_call_scope if {
	call := object.union(get_api, {"mcp": {"method": "tools/call", "tool_name": "search"}})
	not authz.decision.allow with input as call with data.stoa.consumers as consumers
	authz.decision.allow with input as object.union(call, {"token": {"scopes": ["mcp:call"]}})
		with data.stoa.consumers as consumers
}
