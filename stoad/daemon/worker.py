"""A worker process: builds the TLS listener, the layers and the gateway from the config, serves,
reloads on SIGHUP (keeping the old state when anything is broken) and drains on SIGTERM.

Run by the supervisor as C{python -m stoad.daemon.worker}; reports its state on a control pipe.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any, cast

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from stoad.config import Config, ConfigError, config_from_file
from stoad.daemon.logs import start_logging
from stoad.daemon.metrics import Metrics
from stoad.proxy.forward import Forwarder
from stoad.proxy.gateway import Gateway
from stoad.proxy.http import GatewayHTTPFactory, GatewayTLSFactory
from stoad.proxy.pathnorm import normalise_path
from stoad.proxy.routing import RouteTable
from stoad.proxy.tls import ReloadableServerTLS, TLSMaterialError
from stoad.runtime.chain import FilterChain
from stoad.runtime.layers import AlertBus, Services, load_plugin
from stoad.state import REDIS, StateSettings, build_state
from stoad.tracing import build_tracer

if TYPE_CHECKING:
    from stoad.tracing import ExchangeTracer

log = Logger()

EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus names it


class StartupError(Exception):
    """The worker cannot start with this configuration; the message is one line."""


def build_layers(config: Config, services: Services) -> list[Any]:
    layers = []
    for name in config.layers:
        plugin = load_plugin(name)
        try:
            layers.append(plugin.build(config.layer_settings[name], config.routes, services))
        except Exception as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise StartupError(f"layer {name}: {first}") from e
    return layers


class WorkerRuntime:
    """Everything one worker serves with; swapped piecewise on reload."""

    def __init__(self, config: Config, reactor: Any, index: int = 0,
                 metrics: Metrics | None = None) -> None:
        self.reactor = reactor
        self.index = index
        self.config = config
        self.metrics = metrics or Metrics()
        self.alerts = AlertBus()
        self.state = build_state(config.state or StateSettings(), reactor, self._state_health,
                                 self.metrics.state_commands.inc)
        # Redis counts as up from its first answer (the memory store always is).
        self.metrics.state_up.set(0 if self.state.backend == REDIS else 1)
        self.services = Services(reactor=reactor, metrics=self.metrics, alerts=self.alerts,
                                 worker_index=index, state_dir=config.server.state_dir,
                                 state=self.state)
        self._state_probe: LoopingCall | None = None
        if self.state.backend == REDIS:
            # Health (and /metrics) follow Redis even when no request asks; a failed probe
            # only marks it down, txredisapi keeps reconnecting.
            self._state_probe = LoopingCall(self._probe_state)
            self._state_probe.clock = reactor
            self._state_probe.start(1.0, now=True)
        try:
            self.tls = ReloadableServerTLS(config.tls, self._verify_failed)
        except TLSMaterialError as e:
            raise StartupError(f"tls: {e}") from None
        self.layers = build_layers(config, self.services)
        self.tracer: ExchangeTracer | None = build_tracer(config, reactor, index)
        self.gateway = self._gateway(config, self.layers)
        self.http_factory = GatewayHTTPFactory(self.gateway, config.limits, self.metrics, reactor)
        self.tls_factory = GatewayTLSFactory(self.tls, self.http_factory, self.metrics,
                                             config.limits.max_connections, clock=reactor)
        self.port: Any = None
        self.draining = False
        self._ticket_rotation = LoopingCall(self._rotate_ticket_keys)
        self._ticket_rotation.clock = reactor
        self._ticket_rotation.start(config.tls.ticket_key_rotation, now=False)

    def _state_health(self, up: bool, error: str | None) -> None:
        self.metrics.state_up.set(1 if up else 0)

    def _probe_state(self) -> None:
        ping = getattr(self.state, "ping", None)
        if ping is not None:
            ping().addErrback(lambda _: None)

    def close_state(self) -> defer.Deferred[None]:
        if self._state_probe is not None and self._state_probe.running:
            self._state_probe.stop()
        return self.state.close()

    def _rotate_ticket_keys(self) -> None:
        try:
            self.tls.rotate_ticket_keys()
        except TLSMaterialError as e:
            # The files changed under us and are broken; keep serving with the current keys.
            self.metrics.reload_failures.labels("ticket-keys").inc()
            log.error("session-ticket key rotation failed, keeping the current keys: {why}", why=e)

    def _verify_failed(self, reason: str) -> None:
        self.metrics.handshake_failures.labels(reason).inc()

    def _gateway(self, config: Config, layers: list[Any]) -> Gateway:
        return Gateway(
            routes=RouteTable(config.routes),
            chain=FilterChain(self.tracer.wrap(layers) if self.tracer is not None else layers,
                              self.reactor, config.server.step_timeout),
            forwarder=Forwarder(self.reactor, config.routes, idle_timeout=config.limits.idle_timeout),
            metrics=self.metrics,
            clock=self.reactor,
            normalise_path=normalise_path,
            public_host=config.server.public_url.split("://", 1)[1].split("/", 1)[0],
            tracer=self.tracer,
        )

    def listen(self, fd: int | None = None, family: int = socket.AF_INET) -> Any:
        if fd is None:
            address = self.config.server.listen
            self.port = self.reactor.listenTCP(address.port, self.tls_factory,
                                               interface=address.host)
        else:
            self.port = self.reactor.adoptStreamPort(fd, family, self.tls_factory)
            _cap_accept_burst(self.port)
        return self.port

    def reload(self, path: str, state_dir: str | None = None) -> None:
        """
        Re-read the config, then reload TLS material, each layer and the routes. A part that
        fails keeps its previous state and the failure is raised; new handshakes and requests
        use whatever was reloaded. Open connections keep the context they shook hands with.
        """
        config = config_from_file(path, state_dir)
        if config.layers != self.config.layers:
            raise StartupError("the set of layers in [chain] changes only on restart")
        if config.state != self.config.state:
            log.warn("[state] changes take effect on restart")
        if (config.server.listen != self.config.server.listen
                or config.server.workers != self.config.server.workers):
            log.warn("listen address and worker count change only on restart")
        if config.tracing != self.config.tracing:
            log.warn("changes to [tracing] take effect on restart")
        try:
            self.tls.reload(config.tls)
        except TLSMaterialError as e:
            raise StartupError(f"tls: {e}") from None
        for layer in self.layers:
            if hasattr(layer, "reload"):
                layer.reload(config.layer_settings[layer.name])
            elif config.layer_settings[layer.name] != self.config.layer_settings[layer.name]:
                log.warn("changes to the {layer} layer take effect on restart", layer=layer.name)
        old_forwarder = self.gateway.forwarder
        self.gateway = self._gateway(config, self.layers)
        self.http_factory.gateway = self.gateway
        self.http_factory.limits = config.limits
        self.tls_factory.max_connections = config.limits.max_connections
        self.config = config
        # In-flight requests hold the old forwarder; its idle pooled connections close now.
        old_forwarder.close()

    def drain(self, grace: float) -> defer.Deferred[None]:
        """Stop accepting, let in-flight requests finish within C{grace} seconds, then close."""
        self.draining = True
        stopped = defer.maybeDeferred(self.port.stopListening) if self.port else defer.succeed(None)
        done: defer.Deferred[None] = defer.Deferred()

        def check() -> None:
            if done.called:
                return
            if self.tls_factory.open == 0:
                done.callback(None)
                return
            for proto in list(getattr(self.tls_factory, "protocols", {})):
                channel = getattr(proto, "wrappedProtocol", None)
                if channel is not None and not channel.requests:
                    proto.transport.loseConnection()
                elif channel is not None:
                    channel.persistent = False
            self.reactor.callLater(0.05, check)

        def give_up() -> None:
            if not done.called:
                log.warn("drain grace period over; closing {n} connections", n=self.tls_factory.open)
                for proto in list(getattr(self.tls_factory, "protocols", {})):
                    proto.transport.abortConnection()
                done.callback(None)

        stopped.addCallback(lambda _: check())
        self.reactor.callLater(grace, give_up)
        return done


def _cap_accept_burst(port: Any, most: int = 4) -> None:
    """
    With several workers on one listening socket, a worker that accepts 100 connections per
    wake-up starves the others; capping the burst spreads connections across workers.
    """
    original = port.doRead

    def doRead() -> Any:
        result = original()
        port.numberAccepts = min(port.numberAccepts, most)
        return result

    port.numberAccepts = most
    port.doRead = doRead


class _Control:
    """The pipe to the supervisor: one line per state change."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def say(self, *words: str) -> None:
        if self.fd is None:
            return
        line = " ".join(words).replace("\n", " ")[:900] + "\n"
        try:
            os.write(self.fd, line.encode("utf-8", "replace"))
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stoad.daemon.worker")
    parser.add_argument("--config", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--listen-fd", type=int, default=None)
    parser.add_argument("--family", choices=("inet", "inet6"), default="inet")
    parser.add_argument("--control-fd", type=int, default=None)
    parser.add_argument("--state-dir", default=None)
    args = parser.parse_args(argv)
    control = _Control(args.control_fd)

    from twisted.internet import reactor as installed_reactor
    from twisted.internet.base import ReactorBase

    # Twisted types the global reactor as a mix of common interfaces, which leaves out
    # callFromThread and run(installSignalHandlers=...); every POSIX reactor is a ReactorBase.
    reactor = cast(ReactorBase, installed_reactor)

    try:
        config = config_from_file(args.config, args.state_dir)
    except ConfigError as e:
        sys.stderr.write("stoad: configuration invalid:\n" + str(e) + "\n")
        control.say("FAILED", "configuration invalid")
        return EXIT_CONFIG
    start_logging(config.log_level, worker=args.index)
    try:
        runtime = WorkerRuntime(config, reactor, args.index)
        runtime.listen(args.listen_fd, socket.AF_INET6 if args.family == "inet6" else socket.AF_INET)
    except StartupError as e:
        sys.stderr.write(f"stoad: cannot start: {e}\n")
        control.say("FAILED", str(e))
        return EXIT_CONFIG
    except Exception as e:
        sys.stderr.write(f"stoad: cannot start: {type(e).__name__}: {e}\n")
        control.say("FAILED", str(e))
        return EXIT_CONFIG

    def on_hup(*_: Any) -> None:
        reactor.callFromThread(do_reload)

    def do_reload() -> None:
        control.say("RELOADING")
        try:
            runtime.reload(args.config, args.state_dir)
        except Exception as e:
            reason = str(e).replace("\n", "; ") or type(e).__name__
            runtime.metrics.reload_failures.labels("worker").inc()
            log.error("reload failed, still serving the previous configuration: {reason}",
                      reason=reason)
            control.say("RELOAD-FAILED", reason)
            return
        log.info("reloaded configuration")
        control.say("READY")

    def on_term(*_: Any) -> None:
        reactor.callFromThread(do_drain)

    def do_drain() -> None:
        if runtime.draining:
            return
        control.say("STOPPING")
        log.info("draining: no new connections, finishing in-flight requests")
        d = runtime.drain(runtime.config.server.drain_timeout)
        d.addBoth(lambda _: runtime.gateway.forwarder.close())
        d.addBoth(lambda _: runtime.close_state())
        d.addBoth(lambda _: reactor.stop())

    signal.signal(signal.SIGHUP, on_hup)
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGTERM, on_term))
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGINT, on_term))
    reactor.callWhenRunning(control.say, "READY")
    reactor.callWhenRunning(log.info, "worker {index} serving", index=args.index)
    reactor.run(installSignalHandlers=False)
    if runtime.tracer is not None:
        runtime.tracer.shutdown()  # export what is queued, bounded by [tracing] export_timeout
    return 0


if __name__ == "__main__":
    sys.exit(main())
