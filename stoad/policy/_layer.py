"""The policy layer: evaluates the compiled Rego decision for every request, default deny.

Holds one compiled engine per worker, swapped whole on reload; a failed reload keeps the old one.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from stoad.policy._compile import CompiledPolicies, PolicyLoadError, compile_directory
from stoad.policy._decision import ALLOW, DENY, ERROR, Decision, decide, error
from stoad.policy._input import build_input
from stoad.policy._settings import PolicyRouteOptions, PolicySettings
from stoad.proxy.pathnorm import normalise_path
from stoad.runtime.context import PolicyDecision, RequestContext
from stoad.runtime.deny import Deny
from stoad.runtime.layer import LayerBase
from stoad.state import MemoryState, RoundResult, StateUnavailable
from stoad.state._round import ROUND, USAGE_NEED, run_round, unavailable

if TYPE_CHECKING:
    from stoad.runtime.services import Services

log = Logger()

_SETTLED = "policy_usage_settled"  # ctx.extras: the round's count was kept or released


@dataclass(frozen=True)
class _State:
    """What one reload produces; replaced in a single assignment."""

    settings: PolicySettings
    policies: CompiledPolicies


_METRICS: weakref.WeakKeyDictionary[Any, _Metrics] = weakref.WeakKeyDictionary()


def _metrics_for(registry: Any) -> _Metrics:
    """The layer's counters on C{registry}, made once: a reload builds a new layer on the same."""
    found = _METRICS.get(registry)
    if found is None:
        found = _METRICS[registry] = _Metrics(registry)
    return found


class _Metrics:
    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter

        self.decisions = Counter(
            "stoad_policy_decisions", "Policy decisions by result (allow, deny, error).",
            ["result"], registry=registry)
        self.reloads = Counter(
            "stoad_policy_reloads", "Policy reloads by outcome (ok, failed).",
            ["outcome"], registry=registry)
        for result in (ALLOW, DENY, ERROR):
            self.decisions.labels(result.partition(":")[2])
        for outcome in ("ok", "failed"):
            self.reloads.labels(outcome)


def directory_signature(directory: str) -> tuple[tuple[str, int, int, int], ...]:
    """What the watcher compares: every policy file's path, size, mtime and inode."""
    entries = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or not name.endswith((".rego", ".json")):
                continue
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            entries.append((full, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(entries)


class PolicyLayer(LayerBase):
    """
    The Rego decision point. C{on_request} builds the input document, evaluates the configured
    query and raises L{Deny} (403, or 429 when the policy says so) unless the decision allows
    the request; any error, undefined or malformed decision is a 403.
    """

    name = "policy"

    def __init__(self, settings: PolicySettings, services: Services,
                 policies: CompiledPolicies | None = None) -> None:
        self._services = services
        self._clock = services.reactor
        self._metrics = _metrics_for(services.metrics.registry)
        self._state = _State(settings, policies or self._compile(settings))
        # Usage counters live in the shared store (one per worker with the memory backend).
        if services.state is None:
            services.state = MemoryState() if self._clock is None else MemoryState(
                clock=self._clock.seconds)
        self.store = services.state
        self.store.configure(max_consumers=settings.usage_max_consumers,
                             max_tools=settings.usage_max_tools)
        services.state_needs.add(USAGE_NEED)
        self._watcher: LoopingCall | None = None
        self._seen: tuple[tuple[str, int, int, int], ...] = ()
        self._start_watching(settings)
        log.info("policy {version} loaded from {directory} ({count} files)",
                 version=self.version, directory=settings.directory,
                 count=len(self._state.policies.files))

    def successor(self, settings: PolicySettings, routes: Any, services: Services) -> PolicyLayer:
        """A layer compiled from the new settings' directory (usage counters live in the shared
        store and carry over). A directory that does not compile is logged, counted and
        alerted like a failed watch reload, then raised."""
        policies = self._compile_or_report(settings)
        self._metrics.reloads.labels("ok").inc()
        return PolicyLayer(settings, services, policies)

    def activate(self) -> None:
        self.store.configure(max_consumers=self.settings.usage_max_consumers,
                             max_tools=self.settings.usage_max_tools)

    def retire(self) -> None:
        self.stop_watching()

    def _compile_or_report(self, settings: PolicySettings) -> CompiledPolicies:
        try:
            return self._compile(settings)
        except Exception as e:
            reason = str(e) if isinstance(e, PolicyLoadError) else f"{type(e).__name__}: {e}"
            self._metrics.reloads.labels("failed").inc()
            log.error("policy reload from {directory} failed, keeping {version}: {reason}",
                      directory=settings.directory, version=self.version, reason=reason)
            self._services.alerts.emit("policy_reload_failed", "high", None,
                                       directory=settings.directory, error=reason,
                                       version=self.version)
            raise

    @staticmethod
    def _compile(settings: PolicySettings) -> CompiledPolicies:
        return compile_directory(settings.directory, settings.query)

    @property
    def version(self) -> str:
        return self._state.policies.version

    @property
    def settings(self) -> PolicySettings:
        return self._state.settings

    def reload(self, settings: PolicySettings) -> None:
        """
        Recompile C{settings.directory} into a new engine and swap it in. On failure the old
        engine keeps deciding; the error is logged, counted and alerted, then raised.
        """
        policies = self._compile_or_report(settings)
        previous = self._state.policies.version
        self._state = _State(settings, policies)
        self.store.configure(max_consumers=settings.usage_max_consumers,
                             max_tools=settings.usage_max_tools)
        self._metrics.reloads.labels("ok").inc()
        self._start_watching(settings)
        log.info("policy reloaded: {previous} -> {version} ({count} files)",
                 previous=previous, version=policies.version, count=len(policies.files))

    def _start_watching(self, settings: PolicySettings) -> None:
        self._seen = directory_signature(settings.directory)
        if self._watcher is not None:
            if self._watcher.running and self._watcher.interval == settings.watch_interval:
                return
            self.stop_watching()
        if settings.watch_interval > 0:
            self._watcher = LoopingCall(self._check_for_changes)
            self._watcher.clock = self._clock
            self._watcher.start(settings.watch_interval, now=False)

    def stop_watching(self) -> None:
        if self._watcher is not None and self._watcher.running:
            self._watcher.stop()
        self._watcher = None

    def _check_for_changes(self) -> None:
        settings = self._state.settings
        seen = directory_signature(settings.directory)
        if seen == self._seen:
            return
        # Remember what failed too: a broken file is reported once, not on every tick.
        self._seen = seen
        try:
            self.reload(settings)
        except Exception:
            pass  # reload() has logged, counted and alerted; the old engine keeps serving

    def evaluate(self, ctx: RequestContext, usage: dict[str, object] | None = None) -> Decision:
        """The decision for C{ctx} given the consumer's C{usage} (zero counts when None)."""
        state = self._state
        now = self._clock.seconds()
        options = _route_options(ctx)
        path = ctx.path
        if options.case_insensitive_paths:
            try:
                path = normalise_path(path, case_insensitive=True)
            except ValueError as e:
                return error(f"path cannot be normalised: {e}")
        identity = ctx.identity
        if usage is None and identity is not None:
            tool = ctx.mcp.tool_name if ctx.mcp is not None else None
            usage = {"calls_60s": 0, "calls_3600s": 0}
            if tool is not None:
                usage["tool"] = {"name": tool, "calls_60s": 0, "calls_3600s": 0}
        try:
            document = build_input(ctx, path, state.settings.headers, now, usage)
        except ValueError as e:
            return error(f"input document cannot be built: {e}")
        return decide(state.policies, state.settings.query, document)

    def on_request(self, ctx: RequestContext) -> Any:
        """
        Counts this call and reads the consumer's usage in the request's one round to the shared
        store (the MCP layer's, when it ran one), then decides.
        """
        if ctx.identity is None:
            return self._decide(ctx, None)
        found = ctx.extras.get(ROUND)
        if found is None:
            found = run_round(ctx, self._services)
            if isinstance(found, Deferred):
                return found.addCallback(lambda answer: self._decide(ctx, answer))
        return self._decide(ctx, found)

    def _decide(self, ctx: RequestContext, answer: RoundResult | StateUnavailable | None) -> None:
        usage = None
        if isinstance(answer, StateUnavailable):
            deny = unavailable(self._services, ctx, "rate_limits", answer)
            if deny is not None:
                raise deny
        elif answer is not None and answer.usage is not None:
            usage = answer.usage.as_input()
        decision = self.evaluate(ctx, usage)
        if not decision.allowed:
            self._release(ctx)
        ctx.extras[_SETTLED] = True
        ctx.policy = PolicyDecision(decision.result, self.version, decision.reason)
        self._metrics.decisions.labels(decision.result.partition(":")[2]).inc()
        if decision.result == ERROR:
            log.warn("policy {version} error for request {request_id}: {reason}",
                     version=self.version, request_id=ctx.request_id, reason=decision.reason)
        if not decision.allowed:
            error_code = "rate_limited" if decision.status == 429 else "forbidden"
            raise Deny(decision.status, error_code, decision.reason)
        ctx.upstream_headers.update(decision.upstream_headers)

    def on_response(self, ctx: RequestContext, head: Any) -> None:
        return None

    def on_complete(self, ctx: RequestContext) -> None:
        # A call counted in the round but refused before the policy decided (by the MCP layer
        # after the round, or a timeout) is un-counted too.
        if not ctx.extras.get(_SETTLED):
            self._release(ctx)

    def _release(self, ctx: RequestContext) -> None:
        """Usage counts calls the policy allowed: un-count this one (a second round trip, only
        for refused calls)."""
        answer = ctx.extras.get(ROUND)
        if not isinstance(answer, RoundResult) or answer.reservation is None:
            return
        try:
            released = self.store.release_usage(answer.reservation)
        except Exception:
            log.failure("releasing a refused call's usage count failed")
            return
        if isinstance(released, Deferred):
            released.addErrback(lambda f: log.warn("releasing a refused call's usage count "
                                                   "failed: {why}", why=f.getErrorMessage()))


def _route_options(ctx: RequestContext) -> PolicyRouteOptions:
    route = ctx.route
    if route is None:
        return PolicyRouteOptions()
    options = route.layer_options.get("policy")
    return options if isinstance(options, PolicyRouteOptions) else PolicyRouteOptions()


def build_layer(settings: PolicySettings, routes: Any, services: Services) -> PolicyLayer:
    """
    The layer for C{settings}. Raises L{PolicyLoadError} with a one-line message (naming the
    file and the regorus error) when the directory does not compile: the daemon must not start.
    """
    return PolicyLayer(settings, services)
