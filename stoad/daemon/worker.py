"""A worker process: builds its runtime (TLS, routes, layers, forwarder) from the config, serves,
swaps in a whole new runtime on reload (or keeps the old one) and drains on SIGTERM.

Run by the supervisor as C{python -m stoad.daemon.worker}; reports its state on a control pipe.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any, Callable, cast

from twisted.internet import defer, fdesc
from twisted.internet import error as main_error
from twisted.internet.interfaces import IReadDescriptor
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from stoad.audit import AuditLayer
from stoad.config import Config, ConfigError, config_from_file
from stoad.daemon.heap import Reclaimer, settle_heap
from stoad.daemon.logs import start_logging
from stoad.daemon.metrics import Metrics
from stoad.daemon.metrics_merge import MetricsSnapshotFactory
from stoad.proxy.gateway import Gateway
from stoad.proxy.http import GatewayHTTPFactory, GatewayTLSFactory
from stoad.proxy.tls import ReloadableServerTLS, TLSMaterialError
from stoad.runtime.alerts import AlertBus
from stoad.runtime.layer import Layer
from stoad.runtime.services import Services
from stoad.runtime.snapshot import (
    Runtime,
    RuntimeBuildError,
    build_runtime,
    discard,
    handover,
    layer_named,
)
from stoad.state import REDIS, StateSettings, build_state
from stoad.tracing import build_tracer

if TYPE_CHECKING:
    from stoad.tracing import ExchangeTracer

log = Logger()

EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus names it
# CPython's default (700, 10, 10) starts a young collection every 700 net container
# allocations; requests leave no reference cycles behind (tests/test_gateway_garbage.py), so
# collections are rarely needed (docs/decisions.md, "Performance outside the HTTP protocol").


class StartupError(Exception):
    """The worker cannot start with this configuration; the message is one line."""


class WorkerRuntime:
    """
    One worker's listener and its current L{Runtime}. A reload builds the next runtime whole
    (L{prepare}), then swaps it in with L{commit}; any failure leaves everything as it was.
    """

    def __init__(self, config: Config, reactor: Any, index: int = 0,
                 metrics: Metrics | None = None,
                 set_log_level: Callable[[str], None] | None = None) -> None:
        self.reactor = reactor
        self.index = index
        self.metrics = metrics or Metrics()
        self.alerts = AlertBus()
        self._set_log_level = set_log_level
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
        self.tracer: ExchangeTracer | None = build_tracer(config, reactor, index)
        try:
            runtime = build_runtime(config, self.services, self.tls, tracer=self.tracer)
        except RuntimeBuildError as e:
            raise StartupError("; ".join(e.problems)) from None
        self.current = runtime
        self.pending: Runtime | None = None
        self.tls.install(config.tls, runtime.tls_material, runtime.tls_context)
        self.http_factory = GatewayHTTPFactory(runtime.gateway, config.limits, self.metrics, reactor)
        self.reclaimer = Reclaimer(reactor)
        self.tls_factory = GatewayTLSFactory(self.tls, self.http_factory, self.metrics,
                                             config.limits.max_connections, clock=reactor,
                                             on_close=self.reclaimer.connection_closed)
        try:
            handover(None, runtime)
        except Exception as e:
            raise StartupError(f"{type(e).__name__}: {e}".splitlines()[0]) from e
        self.port: Any = None
        self.draining = False
        self._ticket_rotation: LoopingCall | None = None
        self._schedule_ticket_rotation(config.tls.ticket_key_rotation)

    @property
    def config(self) -> Config:
        return self.current.config

    @property
    def gateway(self) -> Gateway:
        return self.current.gateway

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.current.layers

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

    def _schedule_ticket_rotation(self, interval: float) -> None:
        if self._ticket_rotation is not None:
            if self._ticket_rotation.interval == interval:
                return
            self._ticket_rotation.stop()
        self._ticket_rotation = LoopingCall(self._rotate_ticket_keys)
        self._ticket_rotation.clock = self.reactor
        self._ticket_rotation.start(interval, now=False)

    def _rotate_ticket_keys(self) -> None:
        try:
            self.tls.rotate_ticket_keys()
        except TLSMaterialError as e:
            self.metrics.reload_failures.labels("ticket-keys").inc()
            log.error("session-ticket key rotation failed, keeping the current keys: {why}", why=e)

    def _verify_failed(self, reason: str) -> None:
        self.metrics.handshake_failures.labels(reason).inc()

    def listen(self, fd: int | None = None, family: int = socket.AF_INET) -> Any:
        if fd is None:
            address = self.config.server.listen
            self.port = self.reactor.listenTCP(address.port, self.tls_factory,
                                               interface=address.host)
        else:
            self.port = self.reactor.adoptStreamPort(fd, family, self.tls_factory)
            _cap_accept_burst(self.port)
        return self.port

    # -- reload: prepare, then commit or abort ---------------------------------------------------
    def prepare(self, path: str, state_dir: str | None = None) -> Runtime:
        """
        Read the configuration and build its runtime beside the live one; nothing live changes.
        Raises L{RuntimeBuildError} listing every problem.
        """
        self.abort()
        try:
            config = config_from_file(path, state_dir)
        except ConfigError as e:
            raise RuntimeBuildError(list(e.problems)) from None
        self.pending = build_runtime(config, self.services, self.tls, previous=self.current,
                                     tracer=self.tracer)
        return self.pending

    def commit(self) -> Runtime:
        """
        Swap the prepared runtime in: new handshakes get its TLS context, new connections its
        limits, new requests its gateway (routes, chain, forwarder). Requests already running
        hold the gateway they started on. Nothing here can fail half-way.
        """
        new, old = self.pending, self.current
        if new is None:
            raise RuntimeError("no prepared runtime to commit")
        self.pending = None
        config = new.config
        # The reactor runs one thing at a time: no request sees these assignments half done.
        self.tls.install(config.tls, new.tls_material, new.tls_context)
        self.http_factory.gateway = new.gateway
        self.http_factory.limits = config.limits
        self.tls_factory.max_connections = config.limits.max_connections
        self.current = new
        if self._set_log_level is not None:
            self._set_log_level(config.log_level)
        self._schedule_ticket_rotation(config.tls.ticket_key_rotation)
        handover(old, new)
        return new

    def abort(self) -> None:
        """Drop a prepared runtime that will not be committed."""
        pending, self.pending = self.pending, None
        if pending is not None:
            discard(pending, self.current)

    def reload(self, path: str, state_dir: str | None = None) -> Runtime:
        """Prepare and commit in one go (a worker run on its own); raises on any problem."""
        self.prepare(path, state_dir)
        return self.commit()

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
                if channel is not None and channel.idle:
                    proto.transport.loseConnection()
                elif channel is not None:
                    channel.drain()
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


@implementer(IReadDescriptor)
class _CommandPipe:
    """
    The supervisor's commands on the worker's stdin, one line each: C{PREPARE}, C{COMMIT},
    C{ABORT} (a two-phase reload across all workers).
    """

    def __init__(self, fd: int, on_line: Callable[[str], None]) -> None:
        self._fd = fd
        self._on_line = on_line
        self._buffer = b""
        fdesc.setNonBlocking(fd)

    def fileno(self) -> int:
        return self._fd

    def logPrefix(self) -> str:
        return "supervisor-commands"

    def doRead(self) -> Any:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return None
        except OSError as e:
            return main_error.ConnectionLost(str(e))
        if not data:
            return main_error.ConnectionDone()
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._on_line(line.decode("utf-8", "replace").strip())
        return None

    def connectionLost(self, reason: Any) -> None:
        log.info("the supervisor's command pipe closed")


class WorkerReloads:
    """
    Answers reload commands: C{prepare} builds the next runtime and says C{PREPARED HASH} or
    C{RELOAD-FAILED why}; C{commit} swaps it in and says C{READY HASH}; C{abort} drops it.
    Every outcome is logged and written to the audit log with the configuration's hash.
    """

    def __init__(self, runtime: WorkerRuntime, control: _Control, config_path: str,
                 state_dir: str | None) -> None:
        self.runtime = runtime
        self.control = control
        self.config_path = config_path
        self.state_dir = state_dir

    def command(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word == "PREPARE":
            self.prepare()
        elif word == "COMMIT":
            self.commit()
        elif word == "ABORT":
            self.abort(rest or "reload aborted by the supervisor")
        elif line:
            log.warn("unknown supervisor command {word}", word=word[:32])

    def prepare(self) -> bool:
        self.control.say("RELOADING")
        try:
            pending = self.runtime.prepare(self.config_path, self.state_dir)
        except Exception as e:
            problems = list(e.problems) if isinstance(e, RuntimeBuildError) else [
                f"{type(e).__name__}: {e}".splitlines()[0]]
            if not isinstance(e, RuntimeBuildError):
                log.failure("building the new runtime failed")
            self.failed(problems)
            return False
        self.control.say("PREPARED", pending.digest)
        return True

    def commit(self) -> None:
        previous = self.runtime.current.digest
        try:
            new = self.runtime.commit()
        except Exception:
            # Only a COMMIT without PREPARE gets here: nothing was swapped.
            log.failure("commit without a prepared runtime")
            self.control.say("RELOAD-FAILED", "nothing prepared to commit")
            return
        log.info("reloaded configuration {digest} (was {previous})", digest=new.digest,
                 previous=previous)
        _record_config_change(self.runtime.current, "config_reloaded", previous, [])
        self.control.say("READY", new.digest)

    def abort(self, why: str) -> None:
        had_prepared = self.runtime.pending is not None
        self.runtime.abort()
        if had_prepared:
            self.failed([why], counted=False)

    def failed(self, problems: list[str], counted: bool = True) -> None:
        current = self.runtime.current
        if counted:
            self.runtime.metrics.reload_failures.labels("worker").inc()
        reason = "; ".join(problems) or "reload failed"
        log.error("reload failed, still serving the previous configuration {digest}: {reason}",
                  digest=current.digest, reason=reason)
        _record_config_change(current, "config_reload_failed", current.digest, problems)
        self.control.say("RELOAD-FAILED", reason)
        self.control.say("READY", current.digest)

    def reload_alone(self) -> None:
        """SIGHUP to this worker alone (no supervisor): prepare and commit at once."""
        if self.prepare():
            self.commit()


def _record_config_change(runtime: Runtime, kind: str, previous: str | None,
                          problems: list[str]) -> None:
    audit = layer_named(runtime, "audit")
    if isinstance(audit, AuditLayer):
        audit.record_config_change(kind, runtime.digest, previous, problems)


def serve_metrics(reactor: Any, path: str, metrics: Metrics) -> Any:
    """Answer the supervisor's metrics snapshots on the unix socket C{path} (owner only)."""
    if os.path.exists(path):
        os.unlink(path)  # left by this index's previous worker
    return reactor.listenUNIX(path, MetricsSnapshotFactory(metrics.registry), mode=0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stoad.daemon.worker")
    parser.add_argument("--config", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--listen-fd", type=int, default=None)
    parser.add_argument("--family", choices=("inet", "inet6"), default="inet")
    parser.add_argument("--control-fd", type=int, default=None)
    parser.add_argument("--command-fd", type=int, default=None)
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--metrics-socket", default=None)
    args = parser.parse_args(argv)
    control = _Control(args.control_fd)

    from twisted.internet.base import ReactorBase

    from stoad.daemon.reactor import install_worker_reactor

    installed_reactor = install_worker_reactor()

    # Twisted types the global reactor as a mix of common interfaces, which leaves out
    # callFromThread and run(installSignalHandlers=...); every POSIX reactor is a ReactorBase.
    reactor = cast(ReactorBase, installed_reactor)

    try:
        config = config_from_file(args.config, args.state_dir)
    except ConfigError as e:
        sys.stderr.write("stoad: configuration invalid:\n" + str(e) + "\n")
        control.say("FAILED", "configuration invalid")
        return EXIT_CONFIG
    set_level = start_logging(config.log_level, worker=args.index)
    try:
        runtime = WorkerRuntime(config, reactor, args.index, set_log_level=set_level)
        runtime.listen(args.listen_fd, socket.AF_INET6 if args.family == "inet6" else socket.AF_INET)
        if args.metrics_socket:
            serve_metrics(reactor, args.metrics_socket, runtime.metrics)
    except StartupError as e:
        sys.stderr.write(f"stoad: cannot start: {e}\n")
        control.say("FAILED", str(e))
        return EXIT_CONFIG
    except Exception as e:
        sys.stderr.write(f"stoad: cannot start: {type(e).__name__}: {e}\n")
        control.say("FAILED", str(e))
        return EXIT_CONFIG
    reloads = WorkerReloads(runtime, control, args.config, args.state_dir)
    if args.command_fd is not None:
        reactor.addReader(_CommandPipe(args.command_fd, reloads.command))

    def on_hup(*_: Any) -> None:
        reactor.callFromThread(reloads.reload_alone)

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

    settle_heap()
    signal.signal(signal.SIGHUP, on_hup)
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGTERM, on_term))
    reactor.callWhenRunning(lambda: signal.signal(signal.SIGINT, on_term))
    reactor.callWhenRunning(control.say, "READY", runtime.current.digest)
    reactor.callWhenRunning(log.info, "worker {index} serving configuration {digest}",
                            index=args.index, digest=runtime.current.digest)
    reactor.run(installSignalHandlers=False)
    if runtime.tracer is not None:
        runtime.tracer.shutdown()  # export what is queued, bounded by [tracing] export_timeout
    return 0


if __name__ == "__main__":
    sys.exit(main())
