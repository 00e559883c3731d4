"""Strict parsing of the JSON-RPC 2.0 messages a client POSTs to an MCP endpoint.

Every refusal is a L{Deny} whose body is a fixed JSON-RPC error with C{id: null}: nothing the
client sent is echoed (the MCP SDK client correlates a null-id error with its request).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from stoad.runtime import strictjson
from stoad.runtime.deny import Deny

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020

# Revisions reached through the initialize handshake; a request naming any other revision in
# MCP-Protocol-Version is a per-request-envelope (2026-07-28) request, which the SDK holds to
# its routing headers (mcp.shared.inbound.classify_inbound_request).
HANDSHAKE_PROTOCOL_VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
ROUTING_HEADERS = ("mcp-protocol-version", "mcp-method", "mcp-name")
PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities"
# Implementation-defined server errors (-32000..-32099) for stoad's own refusals.
FORBIDDEN = -32001

# Methods whose target is named in params and mirrored in the Mcp-Name header.
NAME_BEARING = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
# Pseudo-methods for what is not a single JSON-RPC request; "rpc." names are reserved by
# JSON-RPC 2.0, so no real method can collide with them.
RESPONSE_METHOD = "rpc.response"
BATCH_METHOD = "rpc.batch"
STREAM_METHOD = "rpc.stream"
TERMINATE_METHOD = "rpc.terminate"

_B64_HEADER = re.compile(r"^=\?base64\?(?P<payload>.*)\?=$")


def rpc_error(status: int, error: str, reason: str, code: int, message: str,
              headers: tuple[tuple[str, str], ...] = ()) -> Deny:
    """A deny whose body is a JSON-RPC error object (fixed text, C{id} null)."""
    body: dict[str, object] = {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": code, "message": message},
    }
    return Deny(status, error, reason, headers=headers, body=body)


def _invalid(reason: str) -> Deny:
    return rpc_error(400, "invalid_request", reason, INVALID_REQUEST, "Invalid Request")


@dataclass(frozen=True)
class Message:
    """One parsed client message: a request (id set), a notification, or a response."""

    kind: str  # "request", "notification" or "response"
    method: str | None
    request_id: Any
    params: dict[str, Any] | None


@dataclass(frozen=True)
class ParsedBody:
    """The messages of one POST; C{batch} says whether they came as a JSON array."""

    messages: tuple[Message, ...]
    batch: bool


def _message(value: Any) -> Message:
    if not isinstance(value, dict) or value.get("jsonrpc") != "2.0":
        raise _invalid("not a JSON-RPC 2.0 object")
    has_id = "id" in value
    request_id = value.get("id")
    if has_id and not (request_id is None or isinstance(request_id, str)
                       or (isinstance(request_id, int) and not isinstance(request_id, bool))):
        raise _invalid("id must be a string or an integer")
    if "method" in value:
        method = value["method"]
        if not isinstance(method, str) or not method:
            raise _invalid("method must be a non-empty string")
        if "result" in value or "error" in value:
            raise _invalid("a request carries no result or error")
        params = value.get("params")
        if params is not None and not isinstance(params, dict):
            # MCP only ever uses by-name params; positional ones would hide the tool name.
            raise _invalid("params must be an object")
        if has_id and request_id is None:
            raise _invalid("a request id must not be null")
        return Message("request" if has_id else "notification", method, request_id, params)
    if ("result" in value) == ("error" in value) or not has_id:
        raise _invalid("a response carries an id and exactly one of result or error")
    return Message("response", None, request_id, None)


def parse_body(body: bytes, max_bytes: int) -> ParsedBody:
    """Parse a POST body; a malformed, oversized or empty one raises a 400 L{Deny}."""
    if len(body) > max_bytes:
        raise rpc_error(400, "message_too_large", f"JSON-RPC message of {len(body)} bytes "
                        f"exceeds {max_bytes}", INVALID_REQUEST, "Message too large")
    try:
        value = strictjson.loads(body)
    except strictjson.DuplicateMember as e:
        # One reading: the upstream's parser may keep the member this layer did not check.
        raise rpc_error(400, "invalid_request", f"JSON-RPC body: {e}", INVALID_REQUEST,
                        "Invalid Request") from None
    except (ValueError, UnicodeDecodeError):
        raise rpc_error(400, "parse_error", "body is not valid JSON", PARSE_ERROR,
                        "Parse error") from None
    if isinstance(value, list):
        if not value:
            raise _invalid("empty batch")
        return ParsedBody(tuple(_message(item) for item in value), batch=True)
    return ParsedBody((_message(value),), batch=False)


def decode_name_header(value: str) -> str | None:
    """The C{Mcp-Name} header's value, undoing the SDK's C{=?base64?...?=} form; None if corrupt."""
    match = _B64_HEADER.fullmatch(value)
    if match is None:
        return value
    payload = match.group("payload")
    try:
        decoded = base64.b64decode(payload, validate=True)
        if base64.b64encode(decoded).decode("ascii") != payload:
            return None
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def target_name(message: Message) -> str | None:
    """The tool/prompt name or resource URI a name-bearing request targets (validated string)."""
    key = NAME_BEARING.get(message.method or "")
    if key is None:
        return None
    value = (message.params or {}).get(key)
    if not isinstance(value, str) or not value:
        raise rpc_error(400, "invalid_params", f"{message.method} without a string {key}",
                        INVALID_PARAMS, "Invalid params")
    return value
