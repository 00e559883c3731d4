"""The Debian package (`make deb`) installed with apt into a throwaway Debian root of this machine's
release (a copy of the cached debootstrap root, entered with chroot; the machine's own / is never
touched): files, conffiles, the stoad user, check-config and `systemd-analyze verify` of the units.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from stoad.dev.devpki import write_dev_pki
from tests.support import package
from tests.support.daemon import StoadDaemon, gateway_config
from tests.support.upstream import Upstream

CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
              "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}
INI = "/etc/stoad/stoad.ini"
UNITS = ("/lib/systemd/system/stoad.service", "/lib/systemd/system/stoad.socket")


class _Root:
    """One Debian root per test run with the package installed by apt, as the README says."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise AssertionError("installing the .deb into a Debian root needs root (chroot)")
        self.tmp = tempfile.mkdtemp(prefix="stoad-deb-")
        atexit.register(shutil.rmtree, self.tmp, True)
        self.path = os.path.join(self.tmp, "root")
        package.run([sys.executable, package.BUILD_DEB, "root", self.path, "--cache", package.CACHE])
        self.deb = "/tmp/" + os.path.basename(package.deb())
        shutil.copy(package.deb(), self.path + self.deb)
        # Offline: the base root holds the dependencies, and it has no package lists to fetch with.
        self.install = self.run("apt-get", "install", "--yes", self.deb)
        self.etc_after_install = os.stat(self.file("/etc/stoad"))
        # The root's own path, inside the root, leads back to its /: a path under the root then
        # names the same file from outside and from inside (configs, keys, the admin socket).
        os.makedirs(self.file(os.path.dirname(self.path)))
        os.symlink("/", self.file(self.path))
        self.twist = os.path.join(self.tmp, "twist-in-root")
        with open(self.twist, "w", encoding="utf-8") as f:
            f.write(f'#!/bin/sh\nexec chroot --userspec=stoad:stoad {self.path} /opt/stoad/bin/twist "$@"\n')
        os.chmod(self.twist, 0o755)

    def run(self, *command: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        userspec = [f"--userspec={user}:{user}"] if user else []
        return package.run(["chroot", *userspec, self.path, *command], env=CHROOT_ENV, check=check)

    def file(self, path: str) -> str:
        return self.path + path


_root: list[_Root | AssertionError] = []


def debian_root() -> _Root:
    """The shared root; a failed set-up is reported to every test without being tried again."""
    if not _root:
        try:
            _root.append(_Root())
        except AssertionError as e:
            _root.append(e)
    if isinstance(_root[0], AssertionError):
        raise _root[0]
    return _root[0]


class InstalledDebTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = debian_root()

    def test_apt_installs_it_with_nothing_to_download(self) -> None:
        """apt installs the .deb offline: its dependencies are the release's own packages."""
        self.assertIn("Setting up stoad", self.root.install.stdout)
        status = self.root.run("dpkg-query", "-W", "-f", "${Status}", "stoad").stdout
        self.assertEqual(status, "install ok installed")

    def test_files_are_where_the_units_and_operators_look(self) -> None:
        """The venv, units, sysusers.d entry, docs and the stoad command on the PATH are installed."""
        for path in ("/opt/stoad/bin/twist", "/opt/stoad/bin/stoad", "/usr/lib/sysusers.d/stoad.conf",
                     *UNITS, "/usr/share/doc/stoad/copyright", INI, "/etc/stoad/policies/authz.rego"):
            self.assertTrue(os.path.isfile(self.root.file(path)), path)
        self.assertEqual(os.readlink(self.root.file("/usr/bin/stoad")), "/opt/stoad/bin/stoad")
        self.assertFalse(os.path.exists(self.root.file("/etc/stoad/pki")))
        # The venv's interpreter is the release's python3, not the build machine's.
        python = self.root.run("readlink", "-f", "/opt/stoad/bin/python3").stdout.strip()
        self.assertRegex(python, r"^/usr/bin/python3\.\d+$")
        self.assertIn("usage: stoad", self.root.run("stoad", "--help").stdout)

    def test_example_configuration_files_are_conffiles(self) -> None:
        """Every file the package puts under /etc/stoad is a conffile, so dpkg keeps an operator's edits."""
        listed = self.root.run("dpkg", "-L", "stoad").stdout.split()
        shipped = {p for p in listed if p.startswith("/etc/stoad/") and os.path.isfile(self.root.file(p))}
        conffiles = {line.split()[0] for line in self.root.run(
            "dpkg-query", "-W", "-f", "${Conffiles}", "stoad").stdout.splitlines() if line.strip()}
        self.assertIn(INI, shipped)
        self.assertEqual(shipped, conffiles)

    def test_stoad_is_a_system_user_without_login(self) -> None:
        """sysusers.d makes stoad a system user and group, home /var/lib/stoad, shell nologin."""
        name, _, uid, gid, _, home, shell = self.root.run("getent", "passwd", "stoad").stdout.strip().split(":")
        self.assertLess(int(uid), 1000)
        self.assertEqual((home, shell), ("/var/lib/stoad", "/usr/sbin/nologin"))
        self.assertEqual(self.root.run("getent", "group", "stoad").stdout.split(":")[2], gid)

    def test_configuration_directory_is_for_root_and_the_stoad_group_only(self) -> None:
        """A first installation leaves /etc/stoad as root:stoad 0750 (the daemon reads its keys as group)."""
        etc = self.root.etc_after_install
        gid = int(self.root.run("getent", "group", "stoad").stdout.split(":")[2])
        self.assertEqual((etc.st_uid, etc.st_gid, stat.S_IMODE(etc.st_mode)), (0, gid, 0o750))

    def test_twist_lists_stoad_from_the_shipped_plugin_cache(self) -> None:
        """twist finds the plugin and never rewrites the shipped dropin.cache (so /opt may be read-only)."""
        cache = self.root.file("/opt/stoad/lib/python3.11/site-packages/twisted/plugins/dropin.cache")
        with open(cache, "rb") as f:
            before = (f.read(), os.stat(cache).st_mtime_ns)
        help_text = self.root.run("/opt/stoad/bin/twist", "--help").stdout
        self.assertRegex(help_text, r"\n\s+stoad\s+Security gateway for AI agents")
        with open(cache, "rb") as f:
            self.assertEqual((f.read(), os.stat(cache).st_mtime_ns), before)

    def test_check_config_of_the_installed_example(self) -> None:
        """The example fails without keys, naming them; with `stoad dev-pki` it passes for the stoad user."""
        missing = self.root.run("stoad", "check-config", INI, check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("[tls] certificate: no such file: /etc/stoad/pki/server.pem", missing.stdout)
        self.root.run("stoad", "dev-pki", "/etc/stoad/pki")
        self.addCleanup(shutil.rmtree, self.root.file("/etc/stoad/pki"), True)
        # As the README says: the daemon's group reads the keys.
        self.root.run("chgrp", "-R", "stoad", "/etc/stoad/pki")
        self.root.run("chmod", "-R", "g+rX", "/etc/stoad/pki")
        result = self.root.run("stoad", "check-config", INI, user="stoad")
        self.assertEqual(result.stdout.strip(), f"{INI}: OK")

    def test_units_verify_with_the_installed_paths(self) -> None:
        """`systemd-analyze verify` of the release's systemd accepts both installed units, without a word."""
        result = self.root.run("systemd-analyze", "verify", *UNITS, check=False)
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))

    def test_unit_commands_come_from_the_package_or_its_dependencies(self) -> None:
        """Every program the service runs belongs to stoad or to a package stoad Depends on."""
        with open(self.root.file(UNITS[0]), encoding="utf-8") as f:
            programs = set(re.findall(r"^Exec\w+=[-@:+!]*(/\S+)", f.read(), re.MULTILINE))
        self.assertIn("/opt/stoad/bin/twist", programs)
        depends = self.root.run("dpkg-query", "-W", "-f", "${Depends}", "stoad").stdout
        allowed = {"stoad"} | {d.split()[0] for d in depends.split(",")}
        for program in programs:
            owner = self.root.run("dpkg", "-S", program).stdout.split(":")[0]
            self.assertIn(owner, allowed, program)

    def test_packaged_daemon_answers_an_mtls_request_as_the_stoad_user(self) -> None:
        """/opt/stoad/bin/twist, run in the root as user stoad, forwards a client-certificate request."""
        os.makedirs(self.root.file("/srv"), exist_ok=True)
        work = tempfile.mkdtemp(prefix="daemon-", dir=self.root.file("/srv"))
        self.addCleanup(shutil.rmtree, work, True)
        pki = write_dev_pki(os.path.join(work, "pki"))
        upstream = Upstream()
        self.addCleanup(upstream.stop)
        text = gateway_config(pki, state_dir=os.path.join(work, "state"),
                              admin_socket=os.path.join(work, "admin.sock"),
                              routes={"api": {"prefix": "/api", "upstream": upstream.url}})
        daemon = StoadDaemon(work, text, pki=pki, twist=self.root.twist)
        uid = int(self.root.run("id", "-u", "stoad").stdout)
        for directory, dirs, files in os.walk(work):
            for name in [directory] + [os.path.join(directory, n) for n in dirs + files]:
                os.chown(name, uid, uid)
        self.addCleanup(daemon.kill)
        daemon.start()
        status, _, body = daemon.request("GET", "/api/echo", cert="agent-1")
        self.assertEqual(status, 200, body)
        # The stoad user cannot write to /opt: a stale plugin cache would have said so.
        self.assertNotIn("Unable to write to plugin cache", daemon.output())

    def test_reinstalling_keeps_the_operators_configuration(self) -> None:
        """Installing the package again keeps an edited stoad.ini and the operator's mode on /etc/stoad."""
        ini = self.root.file(INI)
        with open(ini, encoding="utf-8") as f:
            original = f.read()
        self.addCleanup(os.chmod, self.root.file("/etc/stoad"), 0o750)
        self.addCleanup(_write, ini, original)
        _write(ini, original + "\n# edited by the operator\n")
        os.chmod(self.root.file("/etc/stoad"), 0o710)
        self.root.run("dpkg", "--install", self.root.deb)
        with open(ini, encoding="utf-8") as f:
            self.assertTrue(f.read().endswith("# edited by the operator\n"))
        self.assertEqual(stat.S_IMODE(os.stat(self.root.file("/etc/stoad")).st_mode), 0o710)


class PurgeTests(SynchronousTestCase):
    def test_purge_keeps_the_audit_trail_and_the_user(self) -> None:
        """`dpkg --purge` removes the venv, units and conffiles, but not /var/lib/stoad nor the stoad user."""
        root = _Root()
        self.addCleanup(shutil.rmtree, root.tmp, True)
        record = root.file("/var/lib/stoad/audit/worker-0/chain-000001.jsonl")
        os.makedirs(os.path.dirname(record))
        _write(record, "{}\n")
        root.run("dpkg", "--purge", "stoad")
        for gone in ("/opt/stoad", "/usr/bin/stoad", UNITS[0], INI):
            self.assertFalse(os.path.lexists(root.file(gone)), gone)
        self.assertTrue(os.path.isfile(record))
        self.assertIn("stoad:", root.run("getent", "passwd", "stoad").stdout)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
