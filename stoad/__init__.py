"""stoad: a TLS-terminating security gateway for AI agents.

The request path is TLS (stoad.proxy.tls) -> HTTP parsing (stoad.proxy.http) -> the filter chain of layers
(stoad.runtime.chain) -> the forwarder (stoad.proxy.forward); see docs/architecture.md.
"""

__version__ = "0.1.0"
