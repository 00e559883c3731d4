"""The wheel and sdist as an operator gets them: built by `make dist`, installed into a fresh venv
outside the checkout, and run from there (the plugin, check-config, one mTLS request).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile

from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki
from tests.support import package
from tests.support.daemon import REPO, StoadDaemon, gateway_config
from tests.support.upstream import Upstream

_venv: list[str] = []


def installed_venv() -> str:
    """One venv per test run, in a temporary folder, with the wheel installed as pip installs it."""
    if not _venv:
        tmp = tempfile.mkdtemp(prefix="stoad-wheel-")
        atexit.register(shutil.rmtree, tmp, True)
        venv = os.path.join(tmp, "venv")
        package.run([sys.executable, "-m", "venv", venv], cwd=tmp)
        package.run([os.path.join(venv, "bin", "pip"), "install", "--quiet", package.wheel()], cwd=tmp)
        _venv.append(venv)
    return _venv[0]


def shipped_data_files() -> set[str]:
    """Every file in the checkout's stoad/ package that is not Python source (schemas, lists, models)."""
    found = set()
    for directory, dirs, files in os.walk(os.path.join(REPO, "stoad")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith((".py", ".pyc")):
                found.add(os.path.relpath(os.path.join(directory, name), REPO))
    return found


class BuiltPackageTests(SynchronousTestCase):
    def test_wheel_carries_the_plugin_without_a_namespace_init(self) -> None:
        """The wheel has twisted/plugins/stoad_plugin.py and no __init__.py or dropin.cache beside it."""
        with zipfile.ZipFile(package.wheel()) as wheel:
            names = set(wheel.namelist())
        self.assertIn("twisted/plugins/stoad_plugin.py", names)
        self.assertEqual({n for n in names if n.startswith("twisted/")}, {"twisted/plugins/stoad_plugin.py"})

    def test_wheel_carries_every_data_file_of_the_package(self) -> None:
        """Policy schema, phrase lists and any model file under stoad/ are in the wheel."""
        with zipfile.ZipFile(package.wheel()) as wheel:
            names = set(wheel.namelist())
        data = shipped_data_files()
        self.assertIn("stoad/policy/input.schema.json", data)
        self.assertIn("stoad/guardrails/injection_phrases.txt", data)
        self.assertEqual(data - names, set())

    def test_sdist_carries_the_plugin_units_and_example_but_no_keys(self) -> None:
        """The sdist builds the wheel and the .deb: plugin, units, example config, contrib/deb/; no dev PKI."""
        with tarfile.open(package.sdist()) as sdist:
            names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
        for needed in ("twisted/plugins/stoad_plugin.py", "systemd/stoad.service", "systemd/stoad.socket",
                       "etc/stoad/stoad.ini", "contrib/deb/build_deb.py", "contrib/deb/requirements.txt", "setup.cfg"):
            self.assertIn(needed, names)
        self.assertNotIn("twisted/plugins/__init__.py", names)
        self.assertEqual([n for n in names if n.startswith("etc/stoad/pki")], [])


class InstalledWheelTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.venv = installed_venv()
        self.bin = os.path.join(self.venv, "bin")
        self.tmp = tempfile.mkdtemp(prefix="stoad-wheel-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_installed_code_is_the_venvs_not_the_checkouts(self) -> None:
        """stoad and its plugin are imported from the new venv's site-packages."""
        result = package.run([os.path.join(self.bin, "python"), "-c",
                              "import stoad, twisted.plugins.stoad_plugin as p; print(stoad.__file__); print(p.__file__)"],
                             cwd=self.tmp)
        for path in result.stdout.split():
            self.assertTrue(path.startswith(os.path.join(self.venv, "lib")), path)

    def test_twist_lists_the_stoad_plugin(self) -> None:
        """`twist --help` of the installed venv names the stoad plugin."""
        result = package.run([os.path.join(self.bin, "twist"), "--help"], cwd=self.tmp)
        self.assertRegex(result.stdout, r"\n\s+stoad\s+Security gateway for AI agents")

    def test_check_config_names_the_missing_keys_of_the_example(self) -> None:
        """The shipped example without a PKI fails check-config, naming each missing file."""
        shutil.copytree(os.path.join(REPO, "etc", "stoad"), os.path.join(self.tmp, "etc"),
                        ignore=shutil.ignore_patterns("pki"))
        result = package.run([os.path.join(self.bin, "stoad"), "check-config",
                              os.path.join(self.tmp, "etc", "stoad.ini")], check=False, cwd=self.tmp)
        self.assertEqual(result.returncode, 1)
        self.assertIn("[tls] certificate: no such file:", result.stdout)
        self.assertIn("[audit] signing_key: no such file:", result.stdout)

    def test_check_config_passes_on_the_example_with_a_dev_pki(self) -> None:
        """`stoad dev-pki` writes everything the shipped example names; check-config then passes."""
        etc = os.path.join(self.tmp, "etc")
        shutil.copytree(os.path.join(REPO, "etc", "stoad"), etc, ignore=shutil.ignore_patterns("pki"))
        package.run([os.path.join(self.bin, "stoad"), "dev-pki", os.path.join(etc, "pki")], cwd=self.tmp)
        result = package.run([os.path.join(self.bin, "stoad"), "check-config", os.path.join(etc, "stoad.ini")],
                             cwd=self.tmp)
        self.assertIn("OK", result.stdout)

    def test_installed_daemon_answers_an_mtls_request(self) -> None:
        """`twist stoad` from the new venv starts and forwards a request made with a client certificate."""
        pki = write_dev_pki(os.path.join(self.tmp, "pki"))
        upstream = Upstream()
        self.addCleanup(upstream.stop)
        text = gateway_config(pki, state_dir=os.path.join(self.tmp, "state"),
                              admin_socket=os.path.join(self.tmp, "admin.sock"),
                              routes={"api": {"prefix": "/api", "upstream": upstream.url}})
        daemon = StoadDaemon(self.tmp, text, pki=pki, twist=os.path.join(self.bin, "twist"))
        self.addCleanup(daemon.kill)
        daemon.start()
        status, _, body = daemon.request("GET", "/api/echo", cert="agent-1")
        self.assertEqual(status, 200, body)
        self.assertEqual(upstream.requests[-1]["path"], "/api/echo")
