"""stoad: a TLS-terminating security gateway for AI agents.

The request path is TLS (stoad.tls) -> HTTP parsing (stoad.http) -> the filter chain of layers
(stoad.chain) -> the forwarder (stoad.forward); see docs/architecture.md.
"""

__version__ = "0.1.0"
