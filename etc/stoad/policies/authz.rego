# The default stoad decision: a verified consumer may call a route on its allow-list, with a
# token holding the scope that the HTTP method (or, for MCP, the JSON-RPC method) requires.
# An MCP tool named in the consumer's denied_tools is refused whatever the token holds.
package stoa.authz

import rego.v1

default decision := {"allow": false, "reason": "no rule allowed this request"}

consumer := data.stoa.consumers[input.consumer.id]

required_scope := data.stoa.mcp_method_scopes[input.mcp.method] if {
	input.mcp
} else := data.stoa.method_scopes[input.request.method] if {
	not input.mcp
}

decision := {"allow": false, "reason": "no verified consumer"} if {
	not input.consumer.id
} else := {"allow": false, "reason": sprintf("consumer %s is not registered", [input.consumer.id])} if {
	not consumer
} else := {"allow": false, "reason": sprintf("route %s is not allowed for consumer %s", [object.get(input, ["route", "name"], "(none)"), input.consumer.id])} if {
	not input.route.name in consumer.routes
} else := {"allow": false, "reason": sprintf("tool %s is denied to consumer %s", [input.mcp.tool_name, input.consumer.id])} if {
	input.mcp.tool_name in object.get(consumer, "denied_tools", [])
} else := {"allow": false, "reason": "no scope is mapped to this method"} if {
	not required_scope
} else := {"allow": false, "reason": sprintf("token lacks scope %s", [required_scope])} if {
	not required_scope in input.token.scopes
} else := {"allow": true, "reason": sprintf("consumer %s holds scope %s for route %s", [input.consumer.id, required_scope, input.route.name])}
