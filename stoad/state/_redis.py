"""The shared store on Redis, through txredisapi: one Lua script per request, every wait bounded.

Fails fast while disconnected (txredisapi reconnects by itself); every failure is a L{StateUnavailable}.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from twisted.internet import ssl
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from stoad.state._interface import Reservation, RoundRequest, RoundResult, StateUnavailable, UsageView
from stoad.state._lua import ACCEPT, FORGET, OBSERVE, RELEASE, ROUND, TOKEN, Script
from stoad.state._sessions import session_digest
from stoad.state._settings import REDIS, RedisAddress, StateSettings

log = Logger()


def _tls_options(address: RedisAddress) -> Any:
    """Server verification by the configured CA (else the system's), with the client pair."""
    trust: Any = None
    if address.ca is not None:
        with open(address.ca, "rb") as f:
            trust = ssl.Certificate.loadPEM(f.read())
    client = None
    if address.client_certificate is not None and address.client_key is not None:
        with open(address.client_certificate, "rb") as f:
            cert = f.read()
        with open(address.client_key, "rb") as f:
            key = f.read()
        client = ssl.PrivateCertificate.loadPEM(cert + b"\n" + key)
    return ssl.optionsForClientTLS(address.host, trustRoot=trust, clientCertificate=client)


def _no_delay(connection: Any) -> Any:
    """
    Nagle off on the connection to Redis (under TLS, on the TCP transport beneath): commands
    from concurrent requests share a connection, and a second small write must not wait for
    the first one's ACK.
    """
    transport = getattr(connection, "transport", None)
    while transport is not None:
        set_no_delay = getattr(transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)
            break
        transport = getattr(transport, "transport", None)
    return connection


class RedisState:
    """
    L{SharedState} on one Redis server (or a primary behind one address). Key names start with
    C{key_prefix}; see docs/configuration.md for each.
    """

    backend = REDIS

    def __init__(self, settings: StateSettings, reactor: IReactorTime,
                 on_health: Callable[[bool, str | None], None] | None = None,
                 on_command: Callable[[], None] | None = None,
                 connect: Callable[..., Any] | None = None) -> None:
        # Imported here, not with the module: txredisapi imports twisted.internet.endpoints,
        # whose import consumes LISTEN_FDS/LISTEN_PID (Twisted's systemd endpoint parser), and
        # the supervisor must still find the socket systemd passed when it starts listening.
        import txredisapi

        self._response_error: type[Exception] = txredisapi.ResponseError
        if connect is None:
            connect = txredisapi.lazyConnectionPool
        assert settings.redis is not None
        self.settings = settings
        self._on_command = on_command
        self._reactor = reactor
        self._prefix = settings.key_prefix
        self._timeout = settings.command_timeout
        self._session_ttl_ms = str(int(settings.session_ttl * 1000))
        self._token_ttl_ms = str(int(settings.token_reuse_ttl * 1000))
        self._max_tools = "64"
        self._on_health = on_health
        self.address = settings.redis
        self.up: bool | None = None
        self.last_error: str | None = None
        self.round_trips = 0
        self._created = reactor.seconds()
        self._connect = connect
        self._tls = _tls_options(self.address) if self.address.tls else False
        self._closing = False
        self._rebuilt_at = self._created
        self._pool = self._new_pool()

    def _new_pool(self) -> Any:
        pool = self._connect(
            host=self.address.host, port=self.address.port, dbid=self.address.db or None,
            poolsize=2, reconnect=True, charset="utf-8", password=self.address.password,
            username=self.address.username, ssl_context_factory=self._tls,
            connectTimeout=self.settings.connect_timeout,
            replyTimeout=self.settings.command_timeout, convertNumbers=False)
        factory = getattr(pool, "_factory", None)
        if factory is not None:
            # Back in service soon after Redis is: reconnect within a second, not txredisapi's 10 s.
            factory.initialDelay = 0.1
            factory.maxDelay = 1.0
            build = factory.buildProtocol

            def build_without_nagle(addr: Any) -> Any:
                protocol = build(addr)
                protocol.whenConnected().addCallback(_no_delay)
                return protocol

            factory.buildProtocol = build_without_nagle
        return pool

    # -- plumbing ---------------------------------------------------------------------------
    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _mark(self, up: bool, error: str | None) -> None:
        if not up and self.up is None and \
                self._reactor.seconds() - self._created < self.settings.connect_timeout:
            # Still connecting for the first time: not an outage yet (calls fail all the same).
            self.last_error = error
            return
        changed = up != self.up
        self.up = up
        self.last_error = error
        if changed:
            if up:
                log.info("state backend redis at {host}:{port} is up", host=self.address.host,
                         port=self.address.port)
            else:
                log.error("state backend redis at {host}:{port} is down: {why}",
                          host=self.address.host, port=self.address.port, why=error)
            if self._on_health is not None:
                self._on_health(up, error)

    def _connected(self) -> bool:
        factory = getattr(self._pool, "_factory", None)
        if factory is None:
            return True
        if factory.stopped and not self._closing:
            self._revive(factory)
        return bool(factory.size > 0)

    def _revive(self, factory: Any) -> None:
        """
        txredisapi stops reconnecting for good when AUTH or SELECT fails on a new connection
        (a password changed, or a Redis still loading its data after a restart answers SELECT
        with LOADING): recovery would then need a restart. Build a new pool instead, at most
        once a second.
        """
        now = self._reactor.seconds()
        if now - self._rebuilt_at < 1.0:
            return
        self._rebuilt_at = now
        log.warn("redis client gave up reconnecting to {host}:{port}; starting a new one",
                 host=self.address.host, port=self.address.port)
        stopped = factory.disconnect()
        if isinstance(stopped, Deferred):
            stopped.addErrback(lambda _: None)
        self._pool = self._new_pool()

    def _command(self, *args: Any, counted: bool = True) -> Deferred[Any]:
        """
        One command, bounded by C{command_timeout}. While no connection is up it fails at once:
        txredisapi would otherwise hold the call until a reconnect, and a request must not wait
        on an outage (see docs/decisions.md).
        """
        if not self._connected():
            why = f"not connected to redis at {self.address.host}:{self.address.port}"
            self._mark(False, why)
            failed: Deferred[Any] = Deferred()
            failed.errback(StateUnavailable(why))
            return failed
        if counted:
            self.round_trips += 1
            if self._on_command is not None:
                self._on_command()
        result: Deferred[Any] = Deferred()
        inner = self._pool.execute_command(*args)

        def answered(value: Any) -> None:
            if result.called:
                return
            if isinstance(value, Failure):
                why = f"{type(value.value).__name__}: {value.value}"
                # An error reply (NOSCRIPT, ...) still shows a server that answers.
                answering = value.check(self._response_error) is not None
                self._mark(answering, None if answering else why)
                result.errback(StateUnavailable(why))
            else:
                self._mark(True, None)
                result.callback(value)

        def late() -> None:
            if not result.called:
                why = f"no answer from redis within {self._timeout}s"
                self._mark(False, why)
                result.errback(StateUnavailable(why))

        timer = self._reactor.callLater(self._timeout, late)

        def stop_timer(value: Any) -> Any:
            if timer.active():
                timer.cancel()
            return value

        inner.addBoth(answered)
        result.addBoth(stop_timer)
        return result

    def _script(self, script: Script, keys: Sequence[str], args: Sequence[str]) -> Deferred[Any]:
        """EVALSHA; EVAL once the server answers NOSCRIPT (it restarted or was flushed)."""
        d = self._command("EVALSHA", script.sha, len(keys), *keys, *args)

        def fallback(failure: Failure) -> Any:
            if "NOSCRIPT" in str(failure.value):
                return self._command("EVAL", script.source, len(keys), *keys, *args)
            return failure

        return d.addErrback(fallback)

    # -- SharedState ------------------------------------------------------------------------
    def configure(self, *, max_consumers: int | None = None, max_tools: int | None = None,
                  max_sessions: int | None = None, max_tokens: int | None = None) -> None:
        if max_tools is not None:
            self._max_tools = str(max_tools)

    def _usage_keys(self, consumer: str, tool: str | None) -> list[str]:
        tool_key = self._key("usage-tool", f"{len(consumer)}", consumer, tool or "")
        return [self._key("usage", consumer), tool_key, self._key("usage-other", consumer),
                self._key("usage-tools", consumer)]

    def request_round(self, request: RoundRequest) -> Deferred[RoundResult]:
        session_key = self._key("session", session_digest(request.session_id)) \
            if request.session_id is not None else self._key("session", "-")
        consumer = request.usage_consumer
        usage_keys = self._usage_keys(consumer or "", request.usage_tool)
        keys = [session_key, *usage_keys, self._key("tools-version")]
        args = [request.holder if request.session_id is not None and request.holder else "",
                self._session_ttl_ms, "1" if consumer is not None else "0",
                request.usage_tool or "", self._max_tools, "1" if request.tools_version else "0"]

        def parse(reply: list[Any]) -> RoundResult:
            owner = str(reply[0]) or None
            version = int(reply[8]) if request.tools_version else None
            if owner is not None or not int(reply[1]):
                return RoundResult(session_owner=owner, tools_version=version)
            sec = int(reply[7])
            bucket = str(reply[6])
            counted = [usage_keys[0]]
            if bucket == "t":
                counted.append(usage_keys[1])
            elif bucket == "o":
                counted.append(usage_keys[2])
            view = UsageView(int(reply[2]), int(reply[3]), request.usage_tool,
                             int(reply[4]), int(reply[5]))
            return RoundResult(usage=view, reservation=Reservation((tuple(counted), sec)),
                               tools_version=version)

        return self._script(ROUND, keys, args).addCallback(parse)

    def release_usage(self, reservation: Reservation) -> Deferred[None]:
        keys, sec = reservation.handle
        return self._script(RELEASE, keys, [str(sec), str(sec // 60)]).addCallback(lambda _: None)

    def bind_session(self, session_id: str, holder: str, now: float) -> Deferred[None]:
        key = self._key("session", session_digest(session_id))
        return self._command("SET", key, holder, "PX", self._session_ttl_ms).addCallback(
            lambda _: None)

    def forget_session(self, session_id: str) -> Deferred[None]:
        key = self._key("session", session_digest(session_id))
        return self._command("DEL", key).addCallback(lambda _: None)

    def note_token_use(self, token_hash: str, thumbprint: str, now: float) -> Deferred[str | None]:
        key = self._key("token", token_hash)
        return self._script(TOKEN, [key], [thumbprint, self._token_ttl_ms]).addCallback(
            lambda previous: str(previous) or None)

    def token_known_inactive(self, token_hash: str, now: float) -> Deferred[bool]:
        return self._command("EXISTS", self._key("inactive", token_hash)).addCallback(
            lambda n: bool(int(n)))

    def note_token_inactive(self, token_hash: str, ttl: float, now: float) -> Deferred[None]:
        if ttl <= 0:
            return succeed(None)
        return self._command("SET", self._key("inactive", token_hash), "1", "PX",
                             str(max(1, int(ttl * 1000)))).addCallback(lambda _: None)

    async def wait_connected(self) -> None:
        """For one-shot clients (the CLI): wait up to C{connect_timeout} for a connection."""
        from twisted.internet.task import deferLater

        waited = 0.0
        while not self._connected():
            if waited >= self.settings.connect_timeout:
                raise StateUnavailable(f"cannot connect to redis at {self.address.host}:"
                                       f"{self.address.port} within {waited:.1f}s")
            await deferLater(self._reactor, 0.05, lambda: None)
            waited += 0.05

    def ping(self) -> Deferred[Any]:
        return self._command("PING", counted=False)

    def health(self) -> dict[str, Any]:
        return {"backend": REDIS, "up": bool(self.up), "last_error": self.last_error,
                "address": f"{self.address.host}:{self.address.port}"}

    def close(self) -> Deferred[None]:
        self._closing = True
        disconnect = getattr(self._pool, "disconnect", None)
        if disconnect is None:
            return succeed(None)
        d: Deferred[Any] = disconnect()
        return d.addBoth(lambda _: None)

    # -- MCP tool definitions ---------------------------------------------------------------
    def _tool_keys(self, route: str) -> list[str]:
        return [self._key("tools", route), self._key("tools-version"), self._key("tools-routes")]

    def tools_version(self) -> Deferred[int]:
        return self._command("GET", self._key("tools-version")).addCallback(
            lambda v: int(v or 0))

    def tools_routes(self) -> Deferred[list[str]]:
        return self._command("SMEMBERS", self._key("tools-routes")).addCallback(
            lambda names: sorted(str(n) for n in names or ()))

    def tools_load(self, route: str) -> Deferred[dict[str, str]]:
        """The route's raw tool fields (C{NAME\\0ah} etc.)."""
        def pairs(flat: list[Any]) -> dict[str, str]:
            items = list(flat or ())
            return {str(items[i]): str(items[i + 1]) for i in range(0, len(items), 2)}

        return self._command("HGETALL", self._key("tools", route)).addCallback(pairs)

    def tools_observe(self, route: str, now: float,
                      seen: Sequence[tuple[str, str, str, Sequence[str]]]) -> Deferred[list[str]]:
        """Record (name, hash, definition JSON, poisoning families found) per advertised tool."""
        args = [route, f"{now:.3f}"]
        for name, digest, definition, flagged in seen:
            args += [name, digest, definition, ",".join(flagged)]
        return self._script(OBSERVE, self._tool_keys(route), args).addCallback(
            lambda kinds: [str(k) for k in kinds])

    def tools_accept(self, route: str, tool: str, pending_hash: str) -> Deferred[str | None]:
        return self._script(ACCEPT, self._tool_keys(route)[:2], [tool, pending_hash]).addCallback(
            lambda accepted: str(accepted) or None)

    def tools_forget(self, route: str, tool: str) -> Deferred[bool]:
        return self._script(FORGET, self._tool_keys(route)[:2], [tool]).addCallback(
            lambda n: bool(int(n)))
