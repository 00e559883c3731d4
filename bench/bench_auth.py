"""Per-request cost of the identity layer: verified-token cache hit, ES256/RS256 miss, and an
introspection cache hit. Run: .venv/bin/python bench/bench_auth.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import timeit
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.test_auth_helpers import (  # noqa: E402
    AGENT_1,
    EC_KEY,
    GATEWAY,
    ISSUER,
    RSA_KEY,
    Harness,
    bearer,
    claims_for,
    request,
    write,
)


def per_call(fn: Callable[[], Any], number: int) -> float:
    """Best of five runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    tmp = tempfile.mkdtemp()
    h = Harness(tmp)
    layer = h.layer

    hit_token = EC_KEY.sign(claims_for(h.now))
    assert h.run(request(authorization=bearer(hit_token))) is None
    hit_ctx = request(authorization=bearer(hit_token))
    hit = per_call(lambda: layer.on_request(hit_ctx), 20000)

    def miss(key: Any) -> Callable[[], Any]:
        counter = iter(range(10**9))
        tokens = [key.sign(claims_for(h.now, jti=f"{key.kid}-{i}")) for i in range(3000)]

        def once() -> None:
            ctx = request(authorization=bearer(tokens[next(counter) % len(tokens)]))
            result = layer.on_request(ctx)
            assert result is not None and result.called and result.result is None
        return once

    h.layer._cache = type(h.layer._cache)(0)  # no caching: every call verifies the signature
    es256 = per_call(miss(EC_KEY), 500)
    rs256 = per_call(miss(RSA_KEY), 500)

    secret = write(tmp, "secret", "s")
    hi = Harness(tmp, f"introspection = client_secret_basic\nclient_id = stoad\n"
                      f"client_secret_file = {secret}")
    hi.server.introspection["opaque-bench"] = {
        "active": True, "iss": ISSUER, "client_id": "agent-1", "aud": GATEWAY + "/api",
        "scope": "stoa:read", "exp": int(hi.now) + 600, "cnf": {"x5t#S256": AGENT_1.x5t_s256},
    }
    assert hi.run(request(authorization=bearer("opaque-bench"))) is None
    opaque_ctx = request(authorization=bearer("opaque-bench"))
    opaque = per_call(lambda: hi.layer.on_request(opaque_ctx), 20000)

    print(f"verified-token cache hit (ES256 JWT): {hit:8.2f} us/request")
    print(f"cache miss, ES256 verify:             {es256:8.2f} us/request")
    print(f"cache miss, RS256 verify:             {rs256:8.2f} us/request")
    print(f"introspection cache hit (opaque):     {opaque:8.2f} us/request")


if __name__ == "__main__":
    main()
