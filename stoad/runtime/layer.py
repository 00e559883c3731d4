"""The one interface every security layer implements: each hook the daemon may call, declared.

Nothing probes a layer with C{hasattr}: a layer that has nothing to do in a hook inherits the
no-op from L{LayerBase}. A layer never calls another layer; it reads their facts on the context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence

from stoad.runtime.context import RequestContext
from stoad.runtime.deny import Deny

if TYPE_CHECKING:
    from stoad.runtime.chain import ResponseHead
    from stoad.runtime.services import Services

LocalDocument = tuple[int, dict[str, str], bytes]


class Layer(Protocol):
    """
    One security layer of the chain.

    Request path (steps may return a value, a Deferred or a coroutine; the chain bounds them):
      - C{on_request(ctx)}: raise L{Deny} to refuse.
      - C{before_forward(ctx)}: after every layer's request step allowed the request, before it
        leaves for the upstream (the audit layer makes its decision record durable there);
        may raise L{Deny}. Only layers that override it get the step.
      - C{on_response(ctx, head)}: may return a L{stoad.runtime.chain.BodyFilter}.
      - C{on_complete(ctx)}: exactly once per request whatever happened; must not raise.
    Around the request path:
      - C{serve_local(method, path)}: a document the layer publishes itself under
        C{/.well-known/} (status, headers, body), or None.
      - C{render_denial(ctx, deny, body)}: the body a refusal is sent with; a layer may reshape
        the fixed body into its protocol's error form (MCP answers the JSON-RPC request).
    Reload (see L{stoad.runtime.snapshot}):
      - C{successor(settings, routes, services)}: the layer for a new configuration, carrying
        over what must outlive a reload (open logs, caches, session bindings) without changing
        C{self}; None to have the plugin build a fresh one. Raises L{RestartRequired} for a
        change it cannot take while running, any other exception for broken settings.
      - C{activate()}: start timers and threads, once the runtime holding the layer is live.
      - C{retire()}: the runtime holding the layer was replaced; stop what C{activate} started.
        Requests that started on it may still be finishing.
    """

    name: str

    def on_request(self, ctx: RequestContext) -> Any: ...

    def before_forward(self, ctx: RequestContext) -> Any: ...

    def on_response(self, ctx: RequestContext, head: ResponseHead) -> Any: ...

    def on_complete(self, ctx: RequestContext) -> None: ...

    def serve_local(self, method: str, path: str) -> LocalDocument | None: ...

    def render_denial(self, ctx: RequestContext, deny: Deny, body: bytes) -> bytes: ...

    def successor(self, settings: Any, routes: Sequence[Any], services: Services) -> Layer | None: ...

    def activate(self) -> None: ...

    def retire(self) -> None: ...


class RestartRequired(Exception):
    """A configuration change a running daemon cannot take; the message names the key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class LayerBase:
    """The no-op implementation of every L{Layer} hook; layers override what they use."""

    name = "layer"

    def on_request(self, ctx: RequestContext) -> Any:
        return None

    def before_forward(self, ctx: RequestContext) -> Any:
        return None

    def on_response(self, ctx: RequestContext, head: ResponseHead) -> Any:
        return None

    def on_complete(self, ctx: RequestContext) -> None:
        return None

    def serve_local(self, method: str, path: str) -> LocalDocument | None:
        return None

    def render_denial(self, ctx: RequestContext, deny: Deny, body: bytes) -> bytes:
        return body

    def successor(self, settings: Any, routes: Sequence[Any], services: Services) -> Layer | None:
        return None

    def activate(self) -> None:
        return None

    def retire(self) -> None:
        return None


def changed_keys(section: str, old: Any, new: Any) -> list[str]:
    """C{[section] field} for every field of two frozen settings objects that differs."""
    from dataclasses import fields, is_dataclass

    if not (is_dataclass(old) and is_dataclass(new)):
        return [f"[{section}]"] if old != new else []
    return [f"[{section}] {f.name}" for f in fields(old)
            if getattr(old, f.name) != getattr(new, f.name)]
