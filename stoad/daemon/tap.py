"""The twistd/twist plugin's options and service: C{twist stoad --config PATH}."""

from __future__ import annotations

import sys
from typing import Any

from twisted.python import usage

from stoad.config import ConfigError, config_from_file
from stoad.daemon.supervisor import EXIT_CONFIG, Supervisor


class Options(usage.Options):
    optParameters = [
        ["config", "c", "/etc/stoad/stoad.ini", "Path to the stoad INI configuration file."],
        ["state-dir", None, None, "Overrides [server] state_dir (e.g. systemd's $STATE_DIRECTORY)."],
    ]


def makeService(options: Options, reactor: Any = None) -> Supervisor:
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    try:
        config = config_from_file(options["config"], options["state-dir"])
    except ConfigError as e:
        sys.stderr.write("stoad: configuration invalid:\n" + str(e) + "\n")
        raise SystemExit(EXIT_CONFIG) from None
    return Supervisor(options["config"], config, reactor, state_dir=options["state-dir"])
