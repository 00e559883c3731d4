"""The least a reverse proxy on stoad's stack can do: the floor under stoad's bare path.

Twisted's epoll reactor, pyOpenSSL's memory-BIO TLS with client certificates required (the same
stack and verify settings class as stoad's listener), httptools on both sides, one keep-alive
upstream connection per client connection — and nothing else: no routing, no header rules, no
deadlines, no limits, no metrics, no logging, no chain. Not a product: `bench/bench_floor.py`
runs it beside stoad to show what the design's stack costs per request by itself.

    python bench/floor_proxy.py --port-file F --upstream-port N --cert C --key K --ca A
"""

from __future__ import annotations

import argparse
import gc
import os

from twisted.internet import epollreactor

epollreactor.install()

import httptools  # noqa: E402
from OpenSSL import SSL  # noqa: E402
from twisted.internet import protocol, reactor  # noqa: E402


class ContextFactory:
    def __init__(self, cert: str, key: str, ca: str) -> None:
        context = SSL.Context(SSL.TLS_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.use_certificate_chain_file(cert)
        context.use_privatekey_file(key)
        context.load_verify_locations(ca)
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
                           lambda conn, cert, errno, depth, ok: bool(ok))
        context.set_mode(SSL.MODE_RELEASE_BUFFERS)
        self.context = context

    def getContext(self) -> SSL.Context:  # noqa: N802 (Twisted's interface)
        return self.context


class Upstream(protocol.Protocol):
    def __init__(self, client: Client) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []

    def connectionMade(self) -> None:  # noqa: N802
        self.client.upstream_ready(self)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self.body)
        self.body = []
        status = self.parser.get_status_code()
        self.client.transport.write(
            b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(body), body))


class Client(protocol.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.parser = httptools.HttpRequestParser(self)
        self.upstream: Upstream | None = None
        self.waiting: bytes | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connectionMade(self) -> None:  # noqa: N802
        protocol.ClientCreator(reactor, Upstream, self).connectTCP("127.0.0.1", self.upstream_port)

    def upstream_ready(self, upstream: Upstream) -> None:
        self.upstream = upstream
        if self.waiting is not None:
            upstream.transport.write(self.waiting)
            self.waiting = None

    def connectionLost(self, reason: object = None) -> None:  # noqa: N802
        if self.upstream is not None:
            self.upstream.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self.body)
        method = self.parser.get_method()
        request = (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
                   % (method, self.url, len(body), body))
        self.url, self.body = b"", []
        if self.upstream is None:
            self.waiting = request
        else:
            self.upstream.transport.write(request)


class Factory(protocol.Factory):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port

    def buildProtocol(self, addr: object) -> Client:  # noqa: N802
        return Client(self.upstream_port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--port-file", "--cert", "--key", "--ca"):
        parser.add_argument(name, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    args = parser.parse_args()
    port = reactor.listenSSL(0, Factory(args.upstream_port),  # type: ignore[attr-defined]
                             ContextFactory(args.cert, args.key, args.ca), interface="127.0.0.1")
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port.getHost().port))
    os.rename(args.port_file + ".tmp", args.port_file)
    gc.freeze()
    gc.set_threshold(20000, 20, 20)  # as a stoad worker does
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
