"""Start the MCP SDK test server (tests/fixtures/mcp_server.py) as a real process, and connect
the SDK client to stoad with a client certificate.
"""

from __future__ import annotations

import os
import queue
import ssl
import subprocess
import sys
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

from tests.support.daemon import stop_process_group

SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "fixtures", "mcp_server.py")


class McpUpstream:
    """One MCP server process on 127.0.0.1; C{url} is its Streamable HTTP endpoint's origin."""

    def __init__(self, *options: str) -> None:
        self.options = options
        self.process: subprocess.Popen[str] | None = None
        self.port: int | None = None
        self.lines: list[str] = []

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> McpUpstream:
        self.process = subprocess.Popen(
            [sys.executable, SERVER_SCRIPT, *self.options], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        ready: queue.Queue[str] = queue.Queue()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                if line.startswith("listening "):
                    ready.put(line)
            ready.put("")

        threading.Thread(target=read, daemon=True).start()
        try:
            line = ready.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line:
            self.stop()
            raise RuntimeError("MCP test server did not start:\n" + "".join(self.lines))
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        stop_process_group(self.process)


@asynccontextmanager
async def sdk_client(url: str, ssl_context: ssl.SSLContext, mode: str = "legacy",
                     headers: dict[str, str] | None = None,
                     on_response: Callable[[Any], Awaitable[None]] | None = None,
                     **client_options: Any) -> AsyncIterator[Any]:
    """
    The official SDK client on Streamable HTTP through stoad. mcp 2.x takes a pre-built
    C{httpx2.AsyncClient}: its C{verify} SSL context carries the CA and our client certificate.
    C{on_response} (an httpx response event hook) sees every HTTP exchange the SDK makes.
    """
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    hooks = {"response": [on_response]} if on_response is not None else {}
    async with httpx2.AsyncClient(verify=ssl_context, headers=headers or {},
                                  timeout=httpx2.Timeout(20.0), event_hooks=hooks) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, **client_options) as client:
            yield client


def run(conversation: Callable[[], Awaitable[Any]]) -> Any:
    """Run one SDK conversation to its end, bounded, on a fresh event loop."""
    import anyio

    async def bounded() -> Any:
        with anyio.fail_after(60):
            return await conversation()

    return anyio.run(bounded)


async def refused(call: Awaitable[Any]) -> Any:
    """The MCPError a call ends with (returned, so the SDK's task groups do not wrap it)."""
    from mcp import MCPError

    try:
        await call
    except MCPError as error:
        return error
    raise AssertionError("the call was not refused")
