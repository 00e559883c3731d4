# Example: GET requests only during business hours, 08:00 to 18:00 UTC (18:00 itself is out).
# Everything else is decided by the default policy. Select it with
#   [policy] query = data.stoa.examples.business_hours.decision
package stoa.examples.business_hours

import rego.v1

# time.now_ns() is the gateway's clock for this request (see docs/policy.md).
hour := time.clock([time.now_ns(), "UTC"])[0]

business_hours if {
	hour >= 8
	hour < 18
}

decision := {"allow": false, "reason": sprintf("GET outside business hours (hour %d UTC)", [hour])} if {
	input.request.method == "GET"
	not business_hours
} else := data.stoa.authz.decision
