"""The supervisor: holds the listening socket and the admin listener, runs N worker processes,
restarts a dead one, fans SIGHUP out as a reload and SIGTERM out as a drain, and tells systemd.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from twisted.application.service import Service
from twisted.internet import defer, protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import Site

from stoad.config import Config, ConfigError, config_from_file
from stoad.daemon.admin import admin_root
from stoad.daemon.sdnotify import SystemdNotifier, listen_fds
from stoad.state import REDIS, SharedState, build_state

log = Logger()

EXIT_CONFIG = 78
_RESTART_BACKOFF_MAX = 10.0


@dataclass
class WorkerState:
    index: int
    pid: int | None = None
    state: str = "starting"  # starting, ready, reloading, stopping, exited
    restarts: int = 0
    ever_ready: bool = False
    last_error: str | None = None
    process: Any = field(default=None, repr=False)


class _WorkerProtocol(protocol.ProcessProtocol):
    def __init__(self, supervisor: Supervisor, worker: WorkerState) -> None:
        self.supervisor = supervisor
        self.worker = worker
        self._buffer = b""

    def childDataReceived(self, fd: int, data: bytes) -> None:
        if fd != 3:
            return
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            word, _, rest = line.decode("utf-8", "replace").partition(" ")
            self.supervisor.worker_said(self.worker, word, rest)

    def processEnded(self, reason: Any) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.supervisor.worker_ended(self.worker, code)


class Supervisor(Service):
    """The C{twist stoad} process."""

    def __init__(self, config_path: str, config: Config, reactor: Any,
                 notifier: SystemdNotifier | None = None, state_dir: str | None = None) -> None:
        self.config_path = config_path
        self.state_dir = state_dir
        self.config = config
        self.reactor = reactor
        self.notifier = notifier or SystemdNotifier()
        self.workers = [WorkerState(i) for i in range(config.server.workers)]
        self.state = "starting"
        self.metrics_dir = tempfile.mkdtemp(prefix="stoad-metrics-")
        self.registry = CollectorRegistry()
        MultiProcessCollector(self.registry, path=self.metrics_dir)
        self.worker_restarts = Counter("stoad_worker_restarts", "Workers restarted after dying.",
                                       registry=self.registry)
        self.config_reload_failures = Counter(
            "stoad_config_reload_failures", "Reloads refused because the config was invalid.",
            registry=self.registry)
        self.socket: socket.socket | None = None
        self.family = "inet"
        self.admin_port: Any = None
        self._stopping: defer.Deferred[None] | None = None
        self._watchdog: LoopingCall | None = None
        self.exit_code = 0
        # The state backend's health for /_status, probed by the supervisor itself (workers
        # report theirs in /metrics as stoad_state_backend_up).
        self.shared_state: SharedState | None = None
        self._state_probe: LoopingCall | None = None

    # -- start ---------------------------------------------------------------------------------
    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
        self.socket = self._listening_socket()
        self.admin_port = self._listen_admin()
        signal.signal(signal.SIGHUP, lambda *_: self.reactor.callFromThread(self.reload))
        for worker in self.workers:
            self._spawn(worker)
        if self.config.state is not None and self.config.state.backend == REDIS:
            self.shared_state = build_state(self.config.state, self.reactor)
            self._state_probe = LoopingCall(self._probe_state)
            self._state_probe.clock = self.reactor
            self._state_probe.start(1.0, now=True)
        if self.notifier.watchdog_seconds:
            self._watchdog = LoopingCall(self._watchdog_ping)
            self._watchdog.clock = self.reactor
            self._watchdog.start(self.notifier.watchdog_seconds / 2, now=False)

    def _listening_socket(self) -> socket.socket:
        fds = listen_fds()
        if fds:
            sock = socket.socket(fileno=fds[0])
            sock.setblocking(False)  # workers adopt it into their reactors
            self.family = "inet6" if sock.family == socket.AF_INET6 else "inet"
            log.info("using the socket passed by systemd")
            return sock
        address = self.config.server.listen
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        self.family = "inet6" if family == socket.AF_INET6 else "inet"
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address.host, address.port))
        except OSError as e:
            sock.close()
            self._fail(f"cannot listen on {address.host}:{address.port}: {e.strerror}")
            raise
        sock.listen(1024)
        sock.setblocking(False)
        log.info("listening on {host}:{port}", host=address.host, port=sock.getsockname()[1])
        return sock

    def _listen_admin(self) -> Any:
        site = Site(admin_root(self.status, self.registry))
        site.displayTracebacks = False
        # Health probes every few seconds are not news.
        site.log = lambda request: None  # type: ignore[method-assign]
        listen = self.config.admin.listen
        if listen.startswith("unix:"):
            path = listen[len("unix:"):]
            if os.path.exists(path):
                os.unlink(path)
            return self.reactor.listenUNIX(path, site, mode=0o660)
        host, _, port = listen.rpartition(":")
        return self.reactor.listenTCP(int(port), site, interface=host.strip("[]"))

    @property
    def port(self) -> int:
        assert self.socket is not None
        return int(self.socket.getsockname()[1])

    def _spawn(self, worker: WorkerState) -> None:
        assert self.socket is not None
        env = dict(os.environ)
        env["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        env.pop("NOTIFY_SOCKET", None)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        args = [sys.executable, "-m", "stoad.daemon.worker", "--config", self.config_path,
                "--index", str(worker.index), "--listen-fd", "4", "--family", self.family,
                "--control-fd", "3"]
        if self.state_dir:
            args += ["--state-dir", self.state_dir]
        worker.state = "starting"
        worker.process = self.reactor.spawnProcess(
            _WorkerProtocol(self, worker), sys.executable, args, env=env,
            childFDs={0: "w", 1: 1, 2: 2, 3: "r", 4: self.socket.fileno()},
        )
        worker.pid = worker.process.pid

    # -- worker reports ---------------------------------------------------------------------------
    def worker_said(self, worker: WorkerState, word: str, rest: str) -> None:
        if word == "READY":
            worker.state = "ready"
            worker.ever_ready = True
            worker.last_error = None
        elif word == "RELOAD-FAILED":
            worker.state = "ready"
            worker.last_error = rest
        elif word == "RELOADING":
            worker.state = "reloading"
        elif word == "STOPPING":
            worker.state = "stopping"
        elif word == "FAILED":
            worker.last_error = rest
        self._settle()

    def _settle(self) -> None:
        if self.state in ("starting", "reloading") and all(
                w.state == "ready" for w in self.workers):
            first = self.state == "starting"
            self.state = "ready"
            self.notifier.ready()
            if first:
                log.info("stoad ready on port {port} with {n} workers", port=self.port,
                         n=len(self.workers))
            else:
                failed = [w.last_error for w in self.workers if w.last_error]
                if failed:
                    log.error("reload failed in a worker; it keeps its previous state: {why}",
                              why=failed[0])
                else:
                    log.info("reload complete")

    def worker_ended(self, worker: WorkerState, code: int | None) -> None:
        if worker.pid is not None:
            mark_process_dead(worker.pid, self.metrics_dir)
        worker.state = "exited"
        if self._stopping is not None:
            if all(w.state == "exited" for w in self.workers) and not self._stopping.called:
                self._stopping.callback(None)
            return
        if not worker.ever_ready:
            # A worker that never came up will not come up by retrying: the config, a key or a
            # policy is broken. Fail loudly instead of looping.
            why = worker.last_error or f"worker exited with code {code}"
            self._fail(f"worker {worker.index} could not start: {why}")
            return
        worker.restarts += 1
        self.worker_restarts.inc()
        delay = min(_RESTART_BACKOFF_MAX, 0.1 * (2 ** min(worker.restarts - 1, 7)))
        log.warn("worker {index} (pid {pid}) died with code {code}; restarting in {delay}s",
                 index=worker.index, pid=worker.pid, code=code, delay=delay)
        worker.ever_ready = False if worker.restarts > 50 else worker.ever_ready
        self.reactor.callLater(delay, self._respawn, worker)

    def _respawn(self, worker: WorkerState) -> None:
        if self._stopping is None:
            self._spawn(worker)

    def _fail(self, reason: str) -> None:
        sys.stderr.write(f"stoad: {reason}\n")
        log.critical("stoad: {reason}", reason=reason)
        self.exit_code = EXIT_CONFIG
        self.reactor.addSystemEventTrigger("after", "shutdown", os._exit, EXIT_CONFIG)
        if self.reactor.running:
            self.reactor.stop()
        else:
            self.reactor.callWhenRunning(self.reactor.stop)

    # -- reload, status, stop ---------------------------------------------------------------------
    def reload(self) -> None:
        if self._stopping is not None:
            return
        try:
            config = config_from_file(self.config_path, self.state_dir)
        except ConfigError as e:
            self.config_reload_failures.inc()
            log.error("reload refused, configuration invalid; still serving the previous one: "
                      "{problems}", problems="; ".join(e.problems))
            return
        self.config = config
        self.state = "reloading"
        self.notifier.reloading()
        for worker in self.workers:
            if worker.process is not None and worker.state != "exited":
                worker.state = "reloading"
                worker.process.signalProcess("HUP")
        self._settle()

    def _probe_state(self) -> None:
        ping = getattr(self.shared_state, "ping", None)
        if ping is not None:
            ping().addErrback(lambda _: None)

    def status(self) -> dict[str, Any]:
        backend = self.shared_state.health() if self.shared_state is not None else {
            "backend": "memory", "up": True, "last_error": None}
        return {
            "state": self.state,
            "state_backend": backend,
            "port": self.port if self.socket is not None else None,
            "workers": [
                {"index": w.index, "pid": w.pid, "state": w.state, "restarts": w.restarts,
                 "last_error": w.last_error}
                for w in self.workers
            ],
        }

    def _watchdog_ping(self) -> None:
        if self.state in ("ready", "reloading"):
            self.notifier.watchdog()

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]  # Twisted leaves it unannotated
        self.state = "stopping"
        self.notifier.stopping()
        if self._watchdog is not None and self._watchdog.running:
            self._watchdog.stop()
        if self._state_probe is not None and self._state_probe.running:
            self._state_probe.stop()
        if self.shared_state is not None:
            self.shared_state.close()
        self._stopping = defer.Deferred()
        alive = [w for w in self.workers if w.process is not None and w.state != "exited"]
        if not alive:
            self._stopping.callback(None)
        for worker in alive:
            try:
                worker.process.signalProcess("TERM")
            except Exception:
                worker.state = "exited"
        grace = self.config.server.drain_timeout + 5.0

        def kill_stragglers() -> None:
            for worker in self.workers:
                if worker.state != "exited" and worker.process is not None:
                    log.warn("worker {index} did not drain in time; killing it", index=worker.index)
                    try:
                        worker.process.signalProcess("KILL")
                    except Exception:
                        pass

        timer = self.reactor.callLater(grace, kill_stragglers)
        d = self._stopping

        def cleanup(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            if self.socket is not None:
                self.socket.close()
            if self.admin_port is not None:
                return defer.maybeDeferred(self.admin_port.stopListening)
            return result

        return d.addBoth(cleanup)
