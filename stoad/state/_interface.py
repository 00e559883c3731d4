"""The one interface every request-path user of shared state goes through, and its value types.

A backend answers each call with the value itself (memory) or a Deferred of it (Redis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, Union

from twisted.internet.defer import Deferred

T = TypeVar("T")
# What a backend returns: the value at once, or a Deferred that fires with it.
Maybe = Union[T, "Deferred[T]"]

UNAVAILABLE_BODY: dict[str, object] = {"error": "temporarily_unavailable"}


class StateUnavailable(Exception):
    """The shared store did not answer in time, or answered with an error; the text says which."""


@dataclass(frozen=True)
class UsageView:
    """
    Calls the policy allowed before this one: overall and, for an MCP tool call, for the tool
    (or for the consumer's other tools once C{max_tools} are tracked).
    """

    calls_60s: int
    calls_3600s: int
    tool: str | None = None
    tool_calls_60s: int = 0
    tool_calls_3600s: int = 0

    def as_input(self) -> dict[str, object]:
        """The C{usage} object of the policy input document."""
        out: dict[str, object] = {"calls_60s": self.calls_60s, "calls_3600s": self.calls_3600s}
        if self.tool is not None:
            out["tool"] = {"name": self.tool, "calls_60s": self.tool_calls_60s,
                           "calls_3600s": self.tool_calls_3600s}
        return out


@dataclass(frozen=True)
class Reservation:
    """One counted call, to be released if the call is not allowed after all (backend-specific)."""

    handle: Any


@dataclass(frozen=True)
class RoundRequest:
    """
    Everything one request needs from the store, asked for in one call.

    @ivar session_id: an C{Mcp-Session-Id} the client presented: check it is C{holder}'s, and
        claim it for C{holder} if nobody holds it (the binding's TTL restarts either way).
    @ivar usage_consumer: count this call for the consumer (and C{usage_tool}) and return the
        counts before it; skipped when the session belongs to someone else.
    @ivar tools_version: also return the version of the accepted tool definitions.
    """

    now: float
    session_id: str | None = None
    holder: str | None = None
    usage_consumer: str | None = None
    usage_tool: str | None = None
    tools_version: bool = False


@dataclass(frozen=True)
class RoundResult:
    """
    @ivar session_owner: the holder of the presented session when it is not the presenter.
    @ivar usage: the counts before this call, with C{reservation} to release it.
    @ivar tools_version: the accepted tool definitions' version (None from the memory store).
    """

    session_owner: str | None = None
    usage: UsageView | None = None
    reservation: Reservation | None = None
    tools_version: int | None = None


class SharedState(Protocol):
    """What the layers need from shared state; L{MemoryState} and L{RedisState} provide it."""

    backend: str
    settings: Any  # stoad.state.StateSettings (its failure modes)

    def configure(self, *, max_consumers: int | None = None, max_tools: int | None = None,
                  max_sessions: int | None = None, max_tokens: int | None = None) -> None:
        """Bounds a layer sets from its own settings (the memory store's sizes; Redis uses
        C{max_tools} and expires the rest)."""

    def request_round(self, request: RoundRequest) -> Maybe[RoundResult]:
        """Session check-or-claim, usage count-and-read and the tools version: one call."""

    def release_usage(self, reservation: Reservation) -> Maybe[None]:
        """Un-count a reserved call the policy did not allow."""

    def bind_session(self, session_id: str, holder: str, now: float) -> Maybe[None]:
        """The upstream issued C{session_id} to C{holder}: bind it, replacing any binding."""

    def forget_session(self, session_id: str) -> Maybe[None]:
        """The session ended: drop its binding."""

    def note_token_use(self, token_hash: str, thumbprint: str, now: float) -> Maybe[str | None]:
        """Remember the certificate a token came with; the previous, different one, if any."""

    def token_known_inactive(self, token_hash: str, now: float) -> Maybe[bool]:
        """Whether an instance recorded C{token_hash} (the token reuse signal's hash, never the
        token) as inactive or invalid less than its TTL ago: the introspection negative cache."""

    def note_token_inactive(self, token_hash: str, ttl: float, now: float) -> Maybe[None]:
        """Introspection found the token inactive or invalid: refuse it for C{ttl} seconds."""

    def health(self) -> dict[str, Any]:
        """C{{"backend": ..., "up": bool, "last_error": str | None}}."""

    def close(self) -> Deferred[None]:
        """Close connections."""
