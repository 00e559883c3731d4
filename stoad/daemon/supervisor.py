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
from twisted.application.service import Service
from twisted.internet import defer, protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import Site

from stoad.config import Config, ConfigError, config_from_file
from stoad.daemon.admin import admin_root
from stoad.daemon.metrics_merge import Snapshot, WorkerMetrics, fetch_snapshot, socket_path
from stoad.daemon.sdnotify import SystemdNotifier, listen_fds
from stoad.state import REDIS, SharedState, build_state

log = Logger()

EXIT_CONFIG = 78
_RESTART_BACKOFF_MAX = 10.0
RELOAD_TIMEOUT = 60.0  # seconds for every worker to build (and then install) the new runtime
# How often the supervisor takes the workers' snapshots without a scrape: it bounds what a
# crashed worker's counters lose (see WorkerMetrics).
SNAPSHOT_INTERVAL = 10.0
SNAPSHOT_TIMEOUT = 2.0


@dataclass
class WorkerState:
    index: int
    pid: int | None = None
    state: str = "starting"  # starting, ready, reloading, stopping, exited
    restarts: int = 0
    ever_ready: bool = False
    last_error: str | None = None
    config_digest: str | None = None  # the hash of the configuration the worker serves
    process: Any = field(default=None, repr=False)


@dataclass
class ReloadTransaction:
    """One reload across all workers: who prepared what, who committed."""

    timer: Any
    phase: str = "prepare"  # then "commit"
    prepared: dict[int, tuple[str, str]] = field(default_factory=dict)
    committed: set[int] = field(default_factory=set)
    digest: str | None = None
    waiters: list[defer.Deferred[dict[str, Any]]] = field(default_factory=list)


def _first_problem(problems: list[str]) -> str:
    return problems[0].replace("\n", " ")[:300] if problems else "reload failed"


def _unique_problems(problems: list[str]) -> list[str]:
    """Each problem once: every worker reports the same broken file."""
    seen: dict[str, str] = {}
    for problem in problems:
        _, sep, text = problem.partition(": ")
        seen.setdefault(text if sep else problem, problem)
    return list(seen.values())


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
        self.worker_metrics = WorkerMetrics()
        self.registry.register(self.worker_metrics)
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
        self._snapshots = LoopingCall(self.refresh_metrics)
        self._snapshots.clock = reactor
        self.exit_code = 0
        self.config_digest: str | None = config.digest or None
        self._reload: ReloadTransaction | None = None
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
        # systemd's ExecReload runs `stoad reload`, which asks the admin listener and waits.
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
        self._snapshots.start(SNAPSHOT_INTERVAL, now=False)

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
        site = Site(admin_root(self.status, self.registry, self.reload,
                               refresh=self.refresh_metrics))
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
        env.pop("NOTIFY_SOCKET", None)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        args = [sys.executable, "-m", "stoad.daemon.worker", "--config", self.config_path,
                "--index", str(worker.index), "--listen-fd", "4", "--family", self.family,
                "--control-fd", "3", "--command-fd", "0",
                "--metrics-socket", socket_path(self.metrics_dir, worker.index)]
        if self.state_dir:
            args += ["--state-dir", self.state_dir]
        worker.state = "starting"
        worker.process = self.reactor.spawnProcess(
            _WorkerProtocol(self, worker), sys.executable, args, env=env,
            childFDs={0: "w", 1: 1, 2: 2, 3: "r", 4: self.socket.fileno()},
        )
        worker.pid = worker.process.pid
        assert worker.pid is not None
        self.worker_metrics.worker_started(worker.index, worker.pid)

    def refresh_metrics(self) -> defer.Deferred[None]:
        """Take every live worker's metrics snapshot; a worker that does not answer within
        C{SNAPSHOT_TIMEOUT} keeps its previous one."""
        fetches = []
        for index, pid in self.worker_metrics.live():
            d = fetch_snapshot(self.reactor, socket_path(self.metrics_dir, index),
                               SNAPSHOT_TIMEOUT)
            d.addCallback(self._snapshot_taken, index, pid)
            d.addErrback(self._snapshot_failed, index)
            fetches.append(d)
        done = defer.DeferredList(fetches, consumeErrors=True)
        return done.addCallback(lambda _: None)

    def _snapshot_taken(self, snapshot: Snapshot, index: int, pid: int) -> None:
        self.worker_metrics.update(index, pid, snapshot)

    def _snapshot_failed(self, failure: Any, index: int) -> None:
        # A worker still starting (or just killed) has no socket yet: not worth a warning.
        state = self.workers[index].state if index < len(self.workers) else "exited"
        if state == "ready":
            log.warn("worker {index} did not answer for metrics: {why}", index=index,
                     why=failure.getErrorMessage())

    # -- worker reports ---------------------------------------------------------------------------
    def worker_said(self, worker: WorkerState, word: str, rest: str) -> None:
        if word == "READY":
            worker.config_digest = rest or worker.config_digest
            worker.ever_ready = True
            if self._reload is None:
                worker.state = "ready"
                worker.last_error = None
        elif word == "RELOAD-FAILED":
            worker.last_error = rest
        elif word == "STOPPING":
            worker.state = "stopping"
        elif word == "FAILED":
            worker.last_error = rest
        if word in ("PREPARED", "RELOAD-FAILED", "READY"):
            self._reload_reply(worker, word, rest)
        self._settle()

    def _settle(self) -> None:
        if self.state == "starting" and all(w.state == "ready" for w in self.workers):
            self.state = "ready"
            digests = {w.config_digest for w in self.workers}
            if len(digests) == 1 and None not in digests:
                self.config_digest = digests.pop()
            self._notify_ready()
            log.info("stoad ready on port {port} with {n} workers, configuration {digest}",
                     port=self.port, n=len(self.workers), digest=self.config_digest)

    def worker_ended(self, worker: WorkerState, code: int | None) -> None:
        self.worker_metrics.worker_ended(worker.index)
        worker.state = "exited"
        if self._reload is not None:
            self._reload_reply(worker, "RELOAD-FAILED", f"exited with code {code} while reloading")
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
    def reload(self) -> defer.Deferred[dict[str, Any]]:
        """
        Reload every worker as one transaction: each builds the new runtime beside its live one
        and answers PREPARED (with the configuration's hash) or RELOAD-FAILED; only when all
        prepared the same configuration are they told to COMMIT, otherwise to ABORT, and
        nothing changes anywhere. Fires with the outcome (see L{ReloadTransaction.outcome}).
        A reload asked for while one runs gets that one's outcome.
        """
        if self._reload is not None:
            joined: defer.Deferred[dict[str, Any]] = defer.Deferred()
            self._reload.waiters.append(joined)
            return joined
        if self._stopping is not None:
            return defer.succeed(self._outcome(False, ["stoad is stopping"]))
        not_ready = [f"worker {w.index} is {w.state}, not ready; try again"
                     for w in self.workers if w.state != "ready" or w.process is None]
        if not_ready:
            self.config_reload_failures.inc()
            log.error("reload refused: {problems}", problems="; ".join(not_ready))
            return defer.succeed(self._outcome(False, not_ready))
        transaction = ReloadTransaction(self.reactor.callLater(RELOAD_TIMEOUT, self._reload_timed_out))
        self._reload = transaction
        self.state = "reloading"
        self.notifier.reloading()
        for worker in self.workers:
            worker.state = "reloading"
            self._command(worker, "PREPARE")
        done: defer.Deferred[dict[str, Any]] = defer.Deferred()
        transaction.waiters.append(done)
        return done

    def _command(self, worker: WorkerState, line: str) -> None:
        try:
            worker.process.writeToChild(0, (line + "\n").encode("utf-8"))
        except Exception as e:  # the worker is gone: it cannot take part
            self._reload_reply(worker, "RELOAD-FAILED", f"worker {worker.index} unreachable: {e}")

    def _reload_reply(self, worker: WorkerState, word: str, rest: str) -> None:
        transaction = self._reload
        if transaction is None:
            return
        if transaction.phase == "prepare" and word in ("PREPARED", "RELOAD-FAILED"):
            transaction.prepared[worker.index] = (word, rest)
            if len(transaction.prepared) < len(self.workers):
                return
            failures = [f"worker {i}: {why}" for i, (w, why) in sorted(transaction.prepared.items())
                        if w != "PREPARED"]
            digests = {why for w, why in transaction.prepared.values() if w == "PREPARED"}
            if not failures and len(digests) > 1:
                failures = ["the configuration changed while the workers read it; reload again"]
            if failures:
                for other in self.workers:
                    if transaction.prepared.get(other.index, ("",))[0] == "PREPARED":
                        self._command(other, "ABORT " + _first_problem(failures))
                self._finish_reload(False, _unique_problems(failures))
                return
            transaction.phase = "commit"
            transaction.digest = digests.pop()
            for other in self.workers:
                self._command(other, "COMMIT")
        elif transaction.phase == "commit" and word == "READY":
            transaction.committed.add(worker.index)
            if len(transaction.committed) == len(self.workers):
                self._finish_reload(True, [])
        elif transaction.phase == "commit" and word == "RELOAD-FAILED":
            self._finish_reload(False, [f"worker {worker.index}: {rest}"])

    def _reload_timed_out(self) -> None:
        transaction = self._reload
        if transaction is None:
            return
        silent = [f"worker {w.index} did not answer within {RELOAD_TIMEOUT:.0f}s"
                  for w in self.workers
                  if w.index not in (transaction.prepared if transaction.phase == "prepare"
                                     else transaction.committed)]
        if transaction.phase == "prepare":
            for worker in self.workers:
                if worker.process is not None and worker.state != "exited":
                    self._command(worker, "ABORT reload timed out")
        self._finish_reload(False, silent or ["reload timed out"])

    def _finish_reload(self, ok: bool, problems: list[str]) -> None:
        transaction, self._reload = self._reload, None
        if transaction is None:
            return
        if transaction.timer.active():
            transaction.timer.cancel()
        for worker in self.workers:
            if worker.state == "reloading":
                worker.state = "ready"
        if ok:
            self.config_digest = transaction.digest
            try:
                self.config = config_from_file(self.config_path, self.state_dir)
            except ConfigError:
                pass  # changed again since the workers read it; the next reload will say so
            log.info("reload complete: serving configuration {digest}", digest=self.config_digest)
        else:
            self.config_reload_failures.inc()
            log.error("reload failed, still serving configuration {digest}: {problems}",
                      digest=self.config_digest, problems="; ".join(problems))
        self.state = "ready"
        self._notify_ready(None if ok else problems)
        outcome = self._outcome(ok, problems)
        for waiter in transaction.waiters:
            waiter.callback(outcome)

    def _outcome(self, ok: bool, problems: list[str]) -> dict[str, Any]:
        return {"ok": ok, "config": self.config_digest, "problems": problems,
                "workers": self.status()["workers"]}

    def _notify_ready(self, problems: list[str] | None = None) -> None:
        status = f"serving configuration {self.config_digest}"
        if problems:
            status = f"reload failed, {status}: {_first_problem(problems)}"
        self.notifier.ready(status[:400])

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
            "config": self.config_digest,
            "workers": [
                {"index": w.index, "pid": w.pid, "state": w.state, "restarts": w.restarts,
                 "config": w.config_digest, "last_error": w.last_error}
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
        if self._snapshots.running:
            self._snapshots.stop()
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
