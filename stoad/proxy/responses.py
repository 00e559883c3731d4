"""Responses stoad itself writes: fixed JSON bodies and the security headers they always carry."""

from __future__ import annotations

import json
from typing import Iterable

from stoad.runtime.deny import Deny

SECURITY_HEADERS = (
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
)

# The one body each status gets when a layer gives none: nothing from the request or from an
# exception ever appears in it.
_ERROR_TEXT = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    422: "unprocessable_content",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def error_body(status: int, error: str | None = None) -> bytes:
    return json.dumps({"error": error or _ERROR_TEXT.get(status, "error")}).encode("ascii")


def deny_response(deny: Deny) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a deny; the reason is never part of it."""
    body = json.dumps(deny.body).encode("utf-8") if deny.body is not None else error_body(
        deny.status, deny.error)
    headers = [("Content-Type", "application/json")]
    for name, value in deny.headers:
        if name.lower() == "content-type":
            headers[0] = (name, value)
        else:
            headers.append((name, value))
    return deny.status, headers, body


# JSON-RPC error codes for refusals on MCP routes: the implementation-defined server-error range
# for gateway decisions, the standard codes where one fits.
_JSONRPC_CODES = {400: -32600, 401: -32001, 403: -32003, 404: -32601, 413: -32600, 422: -32602,
                  429: -32029, 500: -32603, 502: -32603, 503: -32603, 504: -32603}


def jsonrpc_deny_body(request_id: str | int, status: int, error: str) -> bytes:
    """
    A refusal as a JSON-RPC 2.0 error answering C{request_id}, so an MCP client can tell a
    gateway decision from a transport failure; the message is the fixed error code only.
    """
    return json.dumps({"jsonrpc": "2.0", "id": request_id,
                       "error": {"code": _JSONRPC_CODES.get(status, -32000), "message": error,
                                 "data": {"status": status}}}).encode("utf-8")


def with_security_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(headers) + list(SECURITY_HEADERS)


def raw_error(status: int, reason: str, close: bool = True) -> bytes:
    """A complete HTTP/1.1 error response for when no Request object can answer (400/413/414)."""
    body = error_body(status)
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in SECURITY_HEADERS]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body
