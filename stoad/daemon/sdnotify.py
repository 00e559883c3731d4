"""systemd's notify protocol (sd_notify) with the standard library: READY, RELOADING, STOPPING,
WATCHDOG. Without C{NOTIFY_SOCKET} every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace socket
        self.address = address or None
        watchdog = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        self.watchdog_seconds = (
            int(watchdog) / 1e6 if watchdog.isdigit() and (not pid or pid == str(os.getpid())) else None
        )

    def notify(self, *fields: str) -> bool:
        if self.address is None:
            return False
        message = "\n".join(fields).encode("utf-8")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.connect(self.address)
                sock.sendall(message)
            except OSError:
                return False
        return True

    def ready(self, status: str = "serving") -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def reloading(self) -> bool:
        usec = int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1_000_000)
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1", "STATUS=draining")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")


def listen_fds(environ: dict[str, str] | None = None) -> list[int]:
    """File descriptors passed by socket activation (C{LISTEN_FDS}), starting at 3."""
    env = os.environ if environ is None else environ
    if env.get("LISTEN_PID") != str(os.getpid()):
        return []
    count = env.get("LISTEN_FDS", "0")
    return list(range(3, 3 + int(count))) if count.isdigit() else []
