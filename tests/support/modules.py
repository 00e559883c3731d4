"""Load a Python file that is not in an importable package (the corpora, contrib scripts) by path."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def load_by_path(name: str, path: str) -> ModuleType:
    """The module in C{path}, loaded once per process under C{name} (later calls return it)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
