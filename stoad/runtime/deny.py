"""The one way a layer refuses a request: raise Deny, and the chain answers with its fixed body.

Nothing a client sent and no exception text ever reaches a Deny's body; the reason is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deny(Exception):
    """
    A refusal: the HTTP status, a fixed machine-readable error code, the reason that is logged
    and audited (never sent), and any extra response headers (e.g. WWW-Authenticate).

    @ivar layer: the name of the layer that refused; the chain fills it in when empty.
    @ivar body: an optional fixed JSON body replacing the default C{{"error": code}}.
    """

    status: int
    error: str
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    layer: str = ""
    body: dict[str, object] | None = field(default=None)

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.reason}"


def internal_error(reason: str) -> Deny:
    """The deny that stands for any unexpected failure: fail closed with a fixed body."""
    return Deny(500, "internal_error", reason)
