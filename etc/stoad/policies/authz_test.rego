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

mcp_call := object.union(get_api, {
	"request": {"method": "POST", "path": "/api"},
	"mcp": {"method": "tools/call", "tool_name": "search"},
})

test_mcp_tool_call_needs_write_scope if {
	d := authz.decision with input as mcp_call with data.stoa.consumers as consumers
	not d.allow
	d.reason == "token lacks scope stoa:write"
	authz.decision.allow with input as object.union(mcp_call, {"token": {"scopes": ["stoa:write"]}})
		with data.stoa.consumers as consumers
}

test_mcp_discovery_needs_read_scope_only if {
	list := object.union(get_api, {"request": {"method": "POST", "path": "/api"}, "mcp": {"method": "tools/list"}})
	authz.decision.allow with input as list with data.stoa.consumers as consumers
}

test_unmapped_mcp_method_is_denied if {
	sampling := object.union(get_api, {"mcp": {"method": "sampling/createMessage"}})
	d := authz.decision with input as sampling with data.stoa.consumers as consumers
	not d.allow
	d.reason == "no scope is mapped to this method"
}

test_denied_tool_is_refused_even_with_the_scope if {
	denying := {"c1": {"routes": ["api"], "denied_tools": ["search"]}}
	writer := object.union(mcp_call, {"token": {"scopes": ["stoa:read", "stoa:write", "stoa:admin"]}})
	d := authz.decision with input as writer with data.stoa.consumers as denying
	not d.allow
	d.reason == "tool search is denied to consumer c1"
	authz.decision.allow with input as object.union(writer, {"mcp": {"tool_name": "echo"}})
		with data.stoa.consumers as denying
}

test_denied_tools_do_not_touch_other_methods if {
	denying := {"c1": {"routes": ["api"], "denied_tools": ["search"]}}
	authz.decision.allow with input as get_api with data.stoa.consumers as denying
}
