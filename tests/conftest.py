"""pytest wiring: tests in files named *_integration* start real processes and are marked so."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "integration: starts real external processes")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "_integration" in item.nodeid.split("::")[0]:
            item.add_marker(pytest.mark.integration)
