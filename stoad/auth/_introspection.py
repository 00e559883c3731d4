"""RFC 7662 token introspection with stoad's own client credentials.

Any failure to get a clear answer from the authorization server raises L{IntrospectionUnavailable}.
"""

from __future__ import annotations

import base64
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlencode

from twisted.internet.interfaces import IReactorTime

from stoad.auth._http import FetchFailed, HTTPClientLike, bounded_fetch


class IntrospectionUnavailable(Exception):
    """The introspection endpoint failed, timed out or answered something unusable."""


def basic_credentials(client_id: str, secret: str) -> bytes:
    """RFC 6749 section 2.3.1: form-encode both parts, then base64 them for HTTP Basic."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return b"Basic " + base64.b64encode(pair)


class TokenIntrospector:
    """
    Posts C{token=...} to the introspection endpoint. With C{client_secret} it authenticates
    with HTTP Basic; without, the HTTP client must present stoad's TLS client certificate
    (tls_client_auth) and only C{client_id} is sent in the form.
    """

    def __init__(self, client: HTTPClientLike, clock: IReactorTime,
                 endpoint: Callable[[], Awaitable[str]], client_id: str,
                 client_secret: str | None, timeout: float, max_bytes: int) -> None:
        self._client = client
        self._clock = clock
        self._endpoint = endpoint
        self._client_id = client_id
        self._secret = client_secret
        self._timeout = timeout
        self._max_bytes = max_bytes

    async def introspect(self, token: str) -> dict[str, Any]:
        try:
            url = await self._endpoint()
        except FetchFailed as e:
            raise IntrospectionUnavailable(f"no introspection endpoint: {e}") from None
        form = {"token": token, "token_type_hint": "access_token"}
        headers = {
            b"Accept": [b"application/json"],
            b"Content-Type": [b"application/x-www-form-urlencoded"],
        }
        if self._secret is not None:
            headers[b"Authorization"] = [basic_credentials(self._client_id, self._secret)]
        else:
            form["client_id"] = self._client_id
        try:
            result = await bounded_fetch(
                self._client, self._clock, "POST", url, timeout=self._timeout,
                max_bytes=self._max_bytes, data=urlencode(form).encode("ascii"), headers=headers,
            )
        except FetchFailed as e:
            raise IntrospectionUnavailable(str(e)) from None
        if result.status != 200:
            raise IntrospectionUnavailable(f"introspection answered HTTP {result.status}")
        try:
            return result.json_object()
        except FetchFailed as e:
            raise IntrospectionUnavailable(str(e)) from None
