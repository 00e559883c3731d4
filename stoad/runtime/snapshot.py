"""The runtime snapshot: everything one configuration serves with, built whole, then swapped in.

A reload builds a new L{Runtime} beside the live one; if any part fails, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from OpenSSL import SSL
from twisted.logger import Logger

from stoad.config import Config, ConfigError
from stoad.proxy.forward import Forwarder
from stoad.proxy.gateway import Gateway
from stoad.proxy.headers import IdentityHeaderPolicy
from stoad.proxy.pathnorm import normalise_path
from stoad.proxy.routing import RouteTable
from stoad.proxy.tls import ReloadableServerTLS, TLSMaterial, TLSMaterialError
from stoad.runtime.chain import FilterChain
from stoad.runtime.layer import Layer, RestartRequired, changed_keys
from stoad.runtime.registry import load_plugin
from stoad.runtime.services import Services

log = Logger()

# The keys a running daemon cannot take, and why; every other key takes effect on reload (a
# layer refuses its own such keys from Layer.successor). docs/configuration.md lists both.
RESTART_ONLY: Mapping[tuple[str, str], Callable[[Config], object]] = {
    ("server", "listen"): lambda c: c.server.listen,
    ("server", "workers"): lambda c: c.server.workers,
    ("server", "state_dir"): lambda c: c.server.state_dir,
    ("admin", "listen"): lambda c: c.admin.listen,
    ("chain", "layers"): lambda c: c.layers,
    ("state", "*"): lambda c: c.state,  # the shared store is opened once per process
    ("tracing", "*"): lambda c: c.tracing,  # the exporter and its thread are made once
}


class RuntimeBuildError(Exception):
    """The new configuration cannot be served; C{problems} says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Runtime:
    """
    One configuration, ready to serve: its TLS context, routes, layers (with their settings),
    consumers (inside the auth layer's settings) and forwarder, composed into a L{Gateway}.
    A request holds the gateway it started on to its end, so in-flight requests finish on the
    runtime they started with.
    """

    config: Config
    tls_material: TLSMaterial
    tls_context: SSL.Context
    layers: tuple[Layer, ...]
    gateway: Gateway

    @property
    def digest(self) -> str:
        return self.config.digest


def restart_required(old: Config, new: Config) -> list[str]:
    """A message for every changed key that only a restart applies."""
    problems = []
    for (section, key), read in RESTART_ONLY.items():
        if read(old) != read(new):
            if key == "*":
                problems += [f"{name} changes only on restart"
                             for name in changed_keys(section, read(old), read(new))]
            else:
                problems.append(f"[{section}] {key} changes only on restart")
    return problems


def build_runtime(config: Config, services: Services, tls: ReloadableServerTLS,
                  previous: Runtime | None = None, tracer: Any = None) -> Runtime:
    """
    Build the runtime for C{config}; with C{previous}, as its successor (layers carry over what
    must outlive a reload). Changes nothing that is live: raises L{RuntimeBuildError} with
    every problem found, and whatever was built is dropped. With a C{tracer} (the worker's,
    made once: C{[tracing]} is restart-only) the chain runs the layers it wraps.
    """
    problems: list[str] = []
    if previous is not None:
        problems += restart_required(previous.config, config)
        if problems:
            raise RuntimeBuildError(problems)
    material: TLSMaterial | None = None
    context: SSL.Context | None = None
    try:
        material, context = tls.prepare(config.tls)
    except TLSMaterialError as e:
        problems.append(f"[tls] {e}")
    layers: list[Layer] = []
    carried = {layer.name: layer for layer in previous.layers} if previous else {}
    for name in config.layers:
        settings = config.layer_settings[name]
        try:
            layer = None
            if name in carried:
                layer = carried[name].successor(settings, config.routes, services)
            if layer is None:
                layer = load_plugin(name).build(settings, config.routes, services)
            layers.append(layer)
        except RestartRequired as e:
            problems.extend(e.problems)
        except ConfigError as e:
            problems.extend(e.problems)
        except Exception as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            problems.append(f"layer {name}: {first}")
    forwarder: Forwarder | None = None
    try:
        forwarder = Forwarder(services.reactor, config.routes, idle_timeout=config.limits.idle_timeout)
    except Exception as e:  # an unreadable or mismatched upstream TLS file
        problems.append(f"[route] upstream TLS material: {e}")
    if problems or material is None or context is None or forwarder is None:
        _discard(layers, carried)
        if forwarder is not None:
            forwarder.close()
        raise RuntimeBuildError(problems or ["runtime could not be built"])
    gateway = Gateway(
        routes=RouteTable(config.routes),
        chain=FilterChain(tracer.wrap(layers) if tracer is not None else layers,
                          services.reactor, config.server.step_timeout, services.metrics),
        forwarder=forwarder,
        metrics=services.metrics,
        clock=services.reactor,
        normalise_path=normalise_path,
        public_host=config.server.public_url.split("://", 1)[1].split("/", 1)[0],
        identity_headers=IdentityHeaderPolicy(config.headers.extra_identity_headers,
                                              config.headers.pass_identity_headers),
        tracer=tracer,
    )
    return Runtime(config, material, context, tuple(layers), gateway)


def _discard(built: list[Layer], carried: dict[str, Layer]) -> None:
    """Layers built for a runtime that will never serve: nothing was activated, retire anyway."""
    for layer in built:
        if carried.get(layer.name) is not layer:
            layer.retire()


def discard(unused: Runtime, live: Runtime) -> None:
    """Drop a runtime that was built but will never be installed, leaving C{live} untouched."""
    _discard(list(unused.layers), {layer.name: layer for layer in live.layers})
    unused.gateway.forwarder.close()


def handover(old: Runtime | None, new: Runtime) -> None:
    """
    After C{new} is installed: activate its new layers, retire the ones it replaced. At start
    (no C{old}) a layer that cannot activate raises (the worker must not start); on a reload
    the new runtime is already serving, so a failure is logged and the others still run.
    """
    kept = {id(layer) for layer in old.layers} if old else set()
    for layer in new.layers:
        if id(layer) not in kept:
            if old is None:
                layer.activate()
                continue
            try:
                layer.activate()
            except Exception:
                log.failure("activating layer {layer} after a reload failed", layer=layer.name)
    if old is None:
        return
    current = {id(layer) for layer in new.layers}
    for layer in old.layers:
        if id(layer) not in current:
            try:
                layer.retire()
            except Exception:
                log.failure("retiring the replaced layer {layer} failed", layer=layer.name)
    # In-flight requests hold the old forwarder; only its idle pooled connections close now.
    old.gateway.forwarder.close()


def layer_named(runtime: Runtime, name: str) -> Any:
    """The live layer called C{name}, or None."""
    for layer in runtime.layers:
        if layer.name == name:
            return layer
    return None
