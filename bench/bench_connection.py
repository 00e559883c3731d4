"""What stoad's own code costs around a new mTLS connection, each socket event and each
upstream request's endpoint.

Run: .venv/bin/python bench/bench_connection.py [--number N]
Times (best of 5, process CPU time): parsing a client certificate into a PeerCertificate, uncached and cached;
getting its DER from pyOpenSSL two ways; and one reactor event dispatched through
log.callWithLogger (Twisted's epoll reactor) against a direct call (stoad's worker reactor);
the endpoint Agent asks for on every upstream request, from Twisted's standard factory and from
the forwarder's cached one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import timeit
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402
from OpenSSL import crypto  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted.python import log  # noqa: E402
from twisted.web.client import URI, Agent  # noqa: E402

from stoad.dev.devpki import write_dev_pki  # noqa: E402
from stoad.proxy.forward import _CachedEndpoints  # noqa: E402
from stoad.proxy.tls import peer_certificate_from_der, peer_certificate_of  # noqa: E402


def best(call: Callable[[], object], number: int) -> float:
    # CPU time, not wall time: the figures hold on a machine busy with other work.
    return min(timeit.repeat(call, number=number, repeat=5, timer=time.process_time)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pki = write_dev_pki(tmp)
        with open(pki["agent-1"], "rb") as f:
            cert = crypto.load_certificate(crypto.FILETYPE_PEM, f.read())
    der = crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)
    uncached = peer_certificate_from_der.__wrapped__

    class Selectable:
        def logPrefix(self) -> str:
            return "GatewayChannel,3,127.0.0.1"

    selectable = Selectable()

    def event(s: object, fd: int, kind: int) -> None:
        return None

    uri = URI.fromBytes(b"http://127.0.0.1:8080/api/orders")
    standard = Agent(reactor, connectTimeout=5.0)
    cached = Agent.usingEndpointFactory(reactor, _CachedEndpoints(reactor, 5.0, None))

    rows = [
        ("client certificate parse, uncached (before)", lambda: uncached(der)),
        ("client certificate parse, cached (now)", lambda: peer_certificate_of(cert)),
        ("DER via to_cryptography().public_bytes (before)",
         lambda: cert.to_cryptography().public_bytes(Encoding.DER)),
        ("DER via crypto.dump_certificate (now)",
         lambda: crypto.dump_certificate(crypto.FILETYPE_ASN1, cert)),
        ("socket event through log.callWithLogger (before)",
         lambda: log.callWithLogger(selectable, event, selectable, 3, 1)),
        ("socket event called directly (now)", lambda: event(selectable, 3, 1)),
        ("upstream endpoint per request, standard factory (before)",
         lambda: standard._getEndpoint(uri)),
        ("upstream endpoint per request, cached (now)", lambda: cached._getEndpoint(uri)),
    ]
    for name, call in rows:
        print(f"{name:58s} {best(call, args.number):7.2f} µs")


if __name__ == "__main__":
    main()
