"""The guardrails layer: schema and content checks on requests, scanning filters on responses.

Every trigger is recorded in the request context (never the matched value), counted and alerted.
"""

from __future__ import annotations

from typing import Any, Mapping

from prometheus_client import CollectorRegistry, Counter
from twisted.logger import Logger

from stoad.guardrails._content import BLOCK_ORDER, ContentScanner, Tally, body_kind
from stoad.guardrails._detectors import (
    INJECTION,
    PII,
    SECRETS,
    AllowList,
    Scanner,
    builtin_phrases,
    builtin_rules,
    custom_rules,
)
from stoad.guardrails._encoding import (
    CorruptEncoding,
    DecodedTooLarge,
    UnsupportedEncoding,
    content_coding,
    decode_body,
    encode_body,
)
from stoad.guardrails._response import BufferedScanFilter, DecodingFilter, EventStreamFilter
from stoad.guardrails._schema import problem_details
from stoad.guardrails._settings import DIRECTIONS, GuardrailSettings, RouteGuardrails
from stoad.runtime import safeschema, strictjson
from stoad.runtime.chain import BodyFilter, ResponseHead
from stoad.runtime.context import GuardrailTrigger, RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase
from stoad.runtime.methods import method_class

log = Logger()

SEVERITY = {INJECTION: "high", SECRETS: "high", PII: "medium", "schema": "low", "size": "low",
            "oversize": "medium", "encoding": "medium"}
_NO_ROUTE = RouteGuardrails(actions={d: {} for d in DIRECTIONS}, max_response_bytes=None, allow=AllowList())


def _trigger_counter(registry: CollectorRegistry) -> Counter:
    name = "stoad_guardrail_triggers"
    existing = getattr(registry, "_names_to_collectors", {}).get(name + "_total")
    if isinstance(existing, Counter):
        return existing
    return Counter(name, "Guardrail triggers, by detector, direction and action.",
                   ["detector", "direction", "action"], registry=registry)


class GuardrailsLayer(LayerBase):
    """Layer 4: PII, secrets, prompt injection, size limits and OpenAPI schema checks."""

    name = "guardrails"

    def __init__(self, settings: GuardrailSettings, metrics: Any, alerts: Any) -> None:
        self.settings = settings
        rules = list(builtin_rules(settings.phone_regions)) + custom_rules(settings.extra_pii, PII) + \
            custom_rules(settings.extra_secrets, SECRETS)
        self.scanner = Scanner(rules, builtin_phrases() + list(settings.extra_phrases),
                               model=settings.learned_injection != "off")
        registry = getattr(metrics, "registry", None)
        self._counter = _trigger_counter(registry) if registry is not None else None
        self._alerts = alerts

    # --- shared ------------------------------------------------------------------------------

    def _route(self, ctx: RequestContext) -> RouteGuardrails:
        route = ctx.route
        options = getattr(route, "layer_options", {}).get(self.name) if route is not None else None
        return options if isinstance(options, RouteGuardrails) else _NO_ROUTE

    def _actions(self, route: RouteGuardrails, direction: str) -> dict[str, str]:
        actions = dict(self.settings.actions[direction])
        actions.update(route.actions.get(direction, {}))
        return actions

    def _allow(self, ctx: RequestContext, route: RouteGuardrails) -> AllowList:
        allow = self.settings.allow.merged(route.allow)
        if ctx.identity is not None:
            allow = allow.merged(self.settings.consumer_allow.get(ctx.identity.consumer_id))
        return allow

    def record(self, ctx: RequestContext, detector: str, direction: str, action: str, count: int = 1) -> None:
        """Record one trigger in the context, the metrics and the alert bus (never the value)."""
        ctx.guardrails.add(GuardrailTrigger(detector, direction, action, count))
        if self._counter is not None:
            self._counter.labels(detector, direction, action).inc(count)
        if self._alerts is not None:
            self._alerts.emit("guardrail", SEVERITY.get(detector, "medium"), ctx, detector=detector,
                              direction=direction, action=action, count=count)
        log.info("guardrail {detector} {direction} {action} x{count} request={request_id}",
                 detector=detector, direction=direction, action=action, count=count,
                 request_id=ctx.request_id)

    def _decide(self, ctx: RequestContext, direction: str, actions: Mapping[str, str],
                tally: Tally) -> str | None:
        """Record the tally's triggers; return the detector that blocks, if any."""
        blocking = []
        for detector in sorted(tally.alerts):
            if not tally.counts[detector]:
                self.record(ctx, detector, direction, "alert", tally.alerts[detector])
        tally.alerts.clear()  # recorded once, even when the same tally is decided again
        for detector in sorted(tally.counts):
            action = actions.get(detector, "block")
            if action == "redact" and detector in tally.unredactable:
                action = "block"
            self.record(ctx, detector, direction, action, tally.counts[detector])
            if action == "block":
                blocking.append(detector)
        for detector in BLOCK_ORDER:
            if detector in blocking:
                return detector
        return blocking[0] if blocking else None

    # --- request -----------------------------------------------------------------------------

    def on_request(self, ctx: RequestContext) -> None:
        try:
            self._check_request(ctx)
        except strictjson.DuplicateMember as e:
            raise Deny(400, "invalid_request", f"request body: {e}") from None
        except safeschema.TooComplex as e:
            self.record(ctx, "schema", "request", "block")
            raise Deny(400, "invalid_request", f"request too complex to validate: {e}") from None

    def _check_request(self, ctx: RequestContext) -> None:
        route = self._route(ctx)
        actions = self._actions(route, "request")
        content = ContentScanner(self.scanner, actions, self._allow(ctx, route),
                                 learned_alert_only=self.settings.learned_injection == "alert")
        if any(a != "off" for a in self._actions(route, "response").values()) or \
                self.response_limit(ctx, route) is not None:
            _limit_accept_encoding(ctx)
        if not content and route.openapi is None:
            return
        body = self._request_body(ctx, route, bool(content))
        if route.openapi is not None:
            violations = route.openapi.validate(method_class(ctx.method), _relative_path(ctx), ctx.query, ctx.headers,
                                                ctx.content_type, body)
            if violations:
                self.record(ctx, "schema", "request", "block", len(violations))
                raise Deny(422, "invalid_request", f"{len(violations)} OpenAPI violation(s)",
                           headers=(("Content-Type", "application/problem+json"),),
                           body=problem_details(violations))
        if not content or not body:
            return
        tally = Tally()
        new = content.body(body, body_kind(ctx.content_type), tally)
        if not tally:
            return
        detector = self._decide(ctx, "request", actions, tally)
        if detector is not None:
            raise Deny(400, "guardrail_blocked", f"request blocked by the {detector} guardrail",
                       body={"error": "guardrail_blocked", "detector": detector})
        if new is not None:
            coding = content_coding(ctx.headers)
            ctx.body = encode_body(new, coding) if coding else new
            ctx.body_size = len(ctx.body)

    def _request_body(self, ctx: RequestContext, route: RouteGuardrails, scanning: bool) -> bytes | None:
        """The decoded request body, or a refusal when it cannot be scanned."""
        body = ctx.body
        if body is None:
            if not _has_body(ctx):
                return b""
            # A streamed body is never passed unscanned.
            self.record(ctx, "oversize", "request", "block")
            raise Deny(413, "guardrail_unscannable", "streamed request body cannot be scanned",
                       body={"error": "guardrail_unscannable", "detector": "oversize"})
        try:
            coding = content_coding(ctx.headers)
        except UnsupportedEncoding as e:
            self.record(ctx, "encoding", "request", "block")
            raise Deny(415, "unsupported_content_encoding", f"cannot scan content coding {e}",
                       body={"error": "unsupported_content_encoding", "detector": "encoding"}) from None
        limit = self.settings.scan_limit
        if coding is not None and body:
            try:
                body = decode_body(body, coding, limit)
            except DecodedTooLarge:
                self._oversize(ctx, None)
                return None
            except CorruptEncoding as e:
                self.record(ctx, "encoding", "request", "block")
                raise Deny(400, "guardrail_unscannable", f"corrupt {coding} request body: {e}",
                           body={"error": "guardrail_unscannable", "detector": "encoding"}) from None
        if len(body) > limit:
            self._oversize(ctx, body)
            return None
        return body

    def _oversize(self, ctx: RequestContext, body: bytes | None) -> None:
        if self.settings.oversize == "block":
            self.record(ctx, "oversize", "request", "block")
            raise Deny(413, "guardrail_blocked", "request body larger than the scan limit",
                       body={"error": "guardrail_blocked", "detector": "oversize"})
        self.record(ctx, "oversize", "request", "alert")

    # --- response ----------------------------------------------------------------------------

    def response_limit(self, ctx: RequestContext, route: RouteGuardrails) -> int | None:
        """The smallest size limit that applies: the route's, the caller's tier's, the default."""
        limits = [route.max_response_bytes, self.settings.max_response_bytes]
        tier = ctx.identity.tier if ctx.identity is not None else None
        if tier is not None:
            limits.append(self.settings.tier_max_response_bytes.get(tier))
        present = [limit for limit in limits if limit]
        return min(present) if present else None

    def on_response(self, ctx: RequestContext, head: ResponseHead) -> BodyFilter | None:
        route = self._route(ctx)
        actions = self._actions(route, "response")
        if ctx.mcp is not None and ctx.mcp.method == "tools/call" and actions.get(INJECTION, "off") == "off":
            # a tool result is where indirect injection arrives from
            actions[INJECTION] = self.settings.tool_results_injection
        content = ContentScanner(self.scanner, actions, self._allow(ctx, route),
                                 learned_alert_only=self.settings.learned_injection == "alert")
        size_limit = self.response_limit(ctx, route)
        if not content and size_limit is None:
            return None
        try:
            coding = content_coding(head.headers)
        except UnsupportedEncoding as e:
            self.record(ctx, "encoding", "response", "block")
            raise Deny(502, "guardrail_unscannable", f"cannot scan response content coding {e}",
                       body={"error": "guardrail_unscannable", "detector": "encoding"}) from None

        def decide(tally: Tally) -> str | None:
            return self._decide(ctx, "response", actions, tally)

        def note(detector: str, action: str) -> None:
            self.record(ctx, detector, "response", action)

        kind = body_kind(head.content_type)
        inner: BufferedScanFilter | EventStreamFilter
        if kind == "sse":
            inner = EventStreamFilter(content, self.scanner, self.settings.scan_limit, self.settings.oversize,
                                      size_limit, decide, note, self.settings.stream_window)
        else:
            inner = BufferedScanFilter(content, kind, self.settings.scan_limit, self.settings.oversize,
                                       size_limit, decide, note)
        if coding is not None:
            return DecodingFilter(inner, coding, note)
        return inner

    def on_complete(self, ctx: RequestContext) -> None:
        return None


def _has_body(ctx: RequestContext) -> bool:
    length = ctx.header("content-length")
    if ctx.header("transfer-encoding"):
        return True
    return bool(length and length.strip() != "0") or ctx.body_size > 0


def _relative_path(ctx: RequestContext) -> str:
    prefix = getattr(ctx.route, "prefix", "") or ""
    path = ctx.path
    if prefix and prefix != "/" and path.startswith(prefix.rstrip("/")):
        path = path[len(prefix.rstrip("/")):]
    return path or "/"


def _limit_accept_encoding(ctx: RequestContext) -> None:
    """Ask the upstream only for codings the response filters can decode."""
    values = ctx.headers.get("accept-encoding")
    if not values:
        return
    kept = []
    for value in values:
        for item in value.split(","):
            token = item.split(";", 1)[0].strip().lower()
            if token in ("gzip", "x-gzip", "deflate", "identity"):
                kept.append(item.strip())
    ctx.headers["accept-encoding"] = [", ".join(kept) if kept else "identity"]
