"""Method classes: HEAD is GET without a body, so every place that maps a method maps its class.

Scopes, policy input, OpenAPI operations: a HEAD is held to exactly what a GET is held to.
"""

from __future__ import annotations

# RFC 9110 9.3.2: the server SHOULD send the same header fields in response to HEAD as to GET;
# an upstream that serves GET's handler for HEAD leaks what GET protects (status, lengths, ETags).
_CLASSES = {"HEAD": "GET"}


def method_class(method: str) -> str:
    """The method whose rules apply to C{method} (upper-case in, upper-case out)."""
    return _CLASSES.get(method, method)


def aliased_methods() -> frozenset[str]:
    """Methods that never have rules of their own (a C{scopes.HEAD} key is an error)."""
    return frozenset(_CLASSES)
