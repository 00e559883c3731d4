"""Bounded HTTP calls to the authorization server: every call has a deadline and a size cap.

The client is injected (a treq C{HTTPClient}, or C{treq.testing.StubTreq} in tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime


class FetchFailed(Exception):
    """The authorization server could not be reached or answered unusably (reason is logged)."""


class HTTPClientLike(Protocol):
    """The calls stoad makes on a treq client; C{headers} and C{data} take treq's own unions."""

    def get(self, url: str, /, *, headers: Any = ...) -> Deferred[Any]: ...

    def post(self, url: str, /, *, headers: Any = ..., data: Any = ...) -> Deferred[Any]: ...


@dataclass(frozen=True)
class FetchResult:
    status: int
    headers: Mapping[str, str]  # lower-cased names, first value
    body: bytes

    def json_object(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise FetchFailed(f"response is not JSON ({type(e).__name__})") from None
        if not isinstance(value, dict):
            raise FetchFailed("response is not a JSON object")
        return value


class _TooLarge(Exception):
    pass


async def _fetch(client: HTTPClientLike, method: str, url: str, max_bytes: int,
                 kwargs: dict[str, Any]) -> FetchResult:
    import treq

    call = client.get if method == "GET" else client.post
    response = await call(url, **kwargs)
    length = getattr(response, "length", None)
    if isinstance(length, int) and length > max_bytes:
        response.deliverBody(_Discard())
        raise FetchFailed(f"{url}: response of {length} bytes exceeds {max_bytes}")
    chunks: list[bytes] = []
    received = 0

    def collect(data: bytes) -> None:
        nonlocal received
        received += len(data)
        if received > max_bytes:
            raise _TooLarge()
        chunks.append(data)

    try:
        await treq.collect(response, collect)
    except _TooLarge:
        raise FetchFailed(f"{url}: response exceeds {max_bytes} bytes") from None
    headers = {
        name.decode("latin-1").lower(): values[0].decode("latin-1")
        for name, values in response.headers.getAllRawHeaders()
        if values
    }
    return FetchResult(int(response.code), headers, b"".join(chunks))


class _Discard:
    def makeConnection(self, transport: Any) -> None:
        transport.stopProducing()

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason: Any) -> None:
        pass


def bounded_fetch(client: HTTPClientLike, clock: IReactorTime, method: str, url: str, *,
                  timeout: float, max_bytes: int, **kwargs: Any) -> Deferred[FetchResult]:
    """
    One request with its whole exchange (connect, headers, body) bounded by C{timeout} seconds
    on C{clock} and the body by C{max_bytes}. Every failure becomes L{FetchFailed}.
    """
    kwargs.setdefault("allow_redirects", False)
    kwargs.setdefault("unbuffered", True)
    d = ensureDeferred(_fetch(client, method, url, max_bytes, kwargs))
    d.addTimeout(timeout, clock)

    def failed(failure: Any) -> None:
        if failure.check(FetchFailed):
            failure.raiseException()
        raise FetchFailed(f"{method} {url}: {failure.type.__name__}")

    d.addErrback(failed)
    return d
