"""A request body streamed to the upstream as it arrives, with backpressure both ways.

Used for routes with C{request_body = stream}: nothing buffers more than a window of it.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet import defer
from twisted.web.iweb import UNKNOWN_LENGTH, IBodyProducer
from zope.interface import implementer

# Bytes held while the upstream is not yet connected or is pushing back; past this the client
# connection is paused, so memory stays bounded whatever the body's size.
WINDOW = 256 * 1024


class ClientGone(Exception):
    """The client went away before sending the whole body."""


@implementer(IBodyProducer)
class StreamedBody:
    """
    Fed by the HTTP channel (C{write}, C{finish}, C{fail}); consumed by the upstream request
    (C{startProducing}). Pausing either side pauses the other.
    """

    def __init__(self, client_transport: Any, length: int | None) -> None:
        self.length = length if length is not None else UNKNOWN_LENGTH
        self.received = 0
        self.done = False
        self._transport = client_transport
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._consumer: Any = None
        self._paused = False
        self._stopped = False
        self._client_paused = False
        self._finished: defer.Deferred[None] | None = None
        self._failure: BaseException | None = None
        # Called when the upstream starts reading the body (the chain has allowed the request):
        # the moment an C{Expect: 100-continue} client is told to send it.
        self.on_start: Callable[[], None] | None = None

    # -- from the client ---------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._stopped:
            return
        self.received += len(data)
        if self._consumer is not None and not self._paused and not self._buffer:
            self._consumer.write(data)
            return
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered > WINDOW:
            self._pause_client()

    def finish(self) -> None:
        self.done = True
        self._settle()

    def fail(self, reason: BaseException) -> None:
        if self.done:
            return
        self.done = True
        self._failure = reason
        self._settle()

    # -- to the upstream -----------------------------------------------------------------------
    def startProducing(self, consumer: Any) -> defer.Deferred[None]:
        self._consumer = consumer
        self._finished = defer.Deferred()
        if self.on_start is not None:
            self.on_start()
        self._flush()
        self._settle()
        return self._finished

    def pauseProducing(self) -> None:
        self._paused = True
        self._pause_client()

    def resumeProducing(self) -> None:
        self._paused = False
        self._flush()
        self._settle()

    def stopProducing(self) -> None:
        self._stopped = True
        self._buffer = []
        self._buffered = 0
        self._resume_client()

    # -- internals -----------------------------------------------------------------------------
    def _flush(self) -> None:
        while self._buffer and not self._paused and self._consumer is not None:
            chunk = self._buffer.pop(0)
            self._buffered -= len(chunk)
            self._consumer.write(chunk)
        if not self._buffer and not self._paused:
            self._resume_client()

    def _settle(self) -> None:
        if self._finished is None or self._finished.called or self._stopped:
            return
        if self._failure is not None:
            self._finished.errback(ClientGone(str(self._failure)))
        elif self.done and not self._buffer:
            self._finished.callback(None)

    def _pause_client(self) -> None:
        if not self._client_paused and self._transport is not None:
            self._client_paused = True
            self._transport.pauseProducing()

    def _resume_client(self) -> None:
        if self._client_paused and self._transport is not None:
            self._client_paused = False
            self._transport.resumeProducing()
