"""The proxy: TLS listener, HTTP framing, the gateway that runs the chain, and forwarding to upstreams.

Everything one request touches on its way in and out, in the order it touches it.
"""
