"""Dependency hygiene: one pinned entry per dependency, and the Debian package's full pin list
(contrib/deb/requirements.txt) agreeing with setup.cfg."""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
from types import ModuleType

from twisted.trial.unittest import SynchronousTestCase

from tests.support.daemon import REPO

_PIN = re.compile(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==(\S+)$")


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(REPO, "setup.cfg"))
    return parser


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _build_deb() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_deb", os.path.join(REPO, "contrib", "deb", "build_deb.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class DependencyTests(SynchronousTestCase):
    def test_every_dependency_is_pinned(self) -> None:
        """Runtime and test dependencies in setup.cfg each name one exact version."""
        cfg = _setup_cfg()
        for requirement in _lines(cfg["options"]["install_requires"]) + _lines(cfg["options.extras_require"]["test"]):
            self.assertRegex(requirement, _PIN)

    def test_each_dependency_is_listed_once(self) -> None:
        """No package appears twice across install_requires and the test extra (names normalised)."""
        cfg = _setup_cfg()
        names = [_name(r) for r in _lines(cfg["options"]["install_requires"]) + _lines(
            cfg["options.extras_require"]["test"])]
        self.assertEqual(sorted(n for n in set(names) if names.count(n) > 1), [])

    def test_debian_pins_agree_with_setup_cfg(self) -> None:
        """contrib/deb/requirements.txt pins every direct dependency at setup.cfg's version, each once."""
        with open(os.path.join(REPO, "contrib", "deb", "requirements.txt"), encoding="utf-8") as f:
            locked = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        versions: dict[str, str] = {}
        for line in locked:
            match = _PIN.match(line)
            assert match is not None, line
            self.assertNotIn(_name(line), versions)
            versions[_name(line)] = match.group(3)
        for requirement in _lines(_setup_cfg()["options"]["install_requires"]):
            match = _PIN.match(requirement)
            assert match is not None
            self.assertEqual(versions.get(_name(requirement)), match.group(3), requirement)


class DebianBuildTests(SynchronousTestCase):
    def test_needed_glibc_is_the_highest_of_each_wheels_lowest_tag(self) -> None:
        """A wheel tagged for several manylinux levels needs the lowest; the package needs the highest of those."""
        needed = _build_deb().needed_glibc([
            "cryptography-50.0.2-cp311-abi3-manylinux_2_34_x86_64.whl",
            "orjson-3.13.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "google_re2-1.1-1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
            "attrs-26.1.0-py3-none-any.whl",
        ])
        self.assertEqual(needed, "2.34")

    def test_pure_wheels_need_only_the_manylinux2014_floor(self) -> None:
        """Without binary wheels the package asks for no more than glibc 2.17."""
        self.assertEqual(_build_deb().needed_glibc(["six-1.17.0-py2.py3-none-any.whl"]), "2.17")
