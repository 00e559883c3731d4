"""Configuration parsing: strict, typed, every problem reported at once."""

from __future__ import annotations

import os
import shutil
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from stoad.config import ConfigError, LimitSettings, config_from_file, config_from_string
from stoad.dev.devpki import write_dev_pki

LIMITS = LimitSettings(max_header_bytes=16384, max_headers=100, max_request_line=8192,
                       max_body_bytes=1 << 20, idle_timeout=60.0, read_timeout=15.0,
                       max_connections=100)


class ConfigTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pki = write_dev_pki(os.path.join(self.tmp, "pki"))

    def text(self, routes: str = "", extra: str = "", tls_extra: str = "") -> str:
        return f"""
[server]
listen = 127.0.0.1:8443
state_dir = {self.tmp}/state
[tls]
certificate = pki/server.pem
private_key = pki/server-key.pem
client_ca = pki/ca.pem
client_auth = required
crl_files = pki/crl.pem
{tls_extra}
[chain]
layers =
no_security_layers_do_not_use = yes
{routes or '''[route:api]
prefix = /api
upstream = http://127.0.0.1:9000'''}
{extra}
"""

    def parse(self, text: str) -> object:
        return config_from_string(text, base_dir=self.tmp)

    def problems(self, text: str) -> tuple[str, ...]:
        with self.assertRaises(ConfigError) as caught:
            self.parse(text)
        return caught.exception.problems


class ValidConfigTests(ConfigTestCase):
    def test_relative_paths_resolve_from_the_config_folder(self) -> None:
        """Certificate paths relative to the config file are made absolute from its folder."""
        config = self.parse(self.text())
        self.assertEqual(config.tls.certificate, self.pki["server"])  # type: ignore[attr-defined]

    def test_defaults_are_secure(self) -> None:
        """Unset limits take their documented defaults; TLS 1.2 is the minimum."""
        config = self.parse(self.text())
        self.assertEqual(config.tls.min_version, "1.2")  # type: ignore[attr-defined]
        self.assertEqual(config.limits.max_body_bytes, 10 * 1024 * 1024)  # type: ignore[attr-defined]
        self.assertEqual(config.server.workers, 1)  # type: ignore[attr-defined]

    def test_routes_are_sorted_longest_prefix_first_with_public_url(self) -> None:
        """Routes are parsed with their upstream parts; each gets a public URL under the
        gateway's."""
        config = self.parse(self.text(routes="""
[route:short]
prefix = /a
upstream = http://127.0.0.1:9000
[route:long]
prefix = /a/b
upstream = https://localhost:9443/base/
timeout = 250ms
"""))
        routes = config.routes  # type: ignore[attr-defined]
        self.assertEqual([r.name for r in routes], ["long", "short"])
        self.assertEqual(routes[0].upstream_base_path, "/base")
        self.assertEqual(routes[0].upstream_port, 9443)
        self.assertEqual(routes[0].timeout, 0.25)
        self.assertEqual(routes[0].public_url, "https://localhost:8443/a/b")

    def test_state_dir_override(self) -> None:
        """config_from_file's state_dir replaces [server] state_dir (systemd's StateDirectory)."""
        path = os.path.join(self.tmp, "stoad.ini")
        with open(path, "w") as f:
            f.write(self.text())
        config = config_from_file(path, state_dir="/var/lib/elsewhere")
        self.assertEqual(config.server.state_dir, "/var/lib/elsewhere")


class InvalidConfigTests(ConfigTestCase):
    def test_every_problem_is_reported_at_once(self) -> None:
        """Unknown keys and sections, bad values and missing files all appear in one error,
        each as [section] key: problem."""
        problems = self.problems(self.text(
            extra="[limits]\nmax_body_bytes = lots\nidle_timeout = -3s\n[mystery]\nx = 1\n",
            tls_extra="min_version = 1.0\ncolour = blue\n",
        ).replace("pki/ca.pem", "pki/missing.pem"))
        joined = "\n".join(problems)
        for expected in ("[limits] max_body_bytes:", "[limits] idle_timeout:", "[mystery]: unknown section",
                         "[tls] min_version:", "[tls] colour: unknown key", "[tls] client_ca: no such file"):
            self.assertIn(expected, joined)

    def test_missing_file_is_an_error(self) -> None:
        """A config path that does not exist is a ConfigError naming it."""
        with self.assertRaises(ConfigError) as caught:
            config_from_file(os.path.join(self.tmp, "nope.ini"))
        self.assertIn("nope.ini", str(caught.exception))

    def test_duplicate_keys_and_sections_are_errors(self) -> None:
        """A key or a section given twice is refused rather than silently picking one."""
        self.assertIn("appears twice", self.problems(self.text() + "\n[route:api]\nprefix = /x\n")[0])
        self.assertIn("appears twice", self.problems(
            self.text().replace("client_auth = required", "client_auth = required\nclient_auth = required"))[0])

    def test_client_auth_must_be_explicit(self) -> None:
        """client_auth has no default; anything but 'required' needs the alarming name."""
        problems = self.problems(self.text().replace("client_auth = required", ""))
        self.assertIn("[tls] client_auth: required key is missing", problems)
        problems = self.problems(self.text().replace("client_auth = required", "client_auth = optional"))
        self.assertTrue(any("client_auth" in p for p in problems))

    def test_no_crl_needs_an_explicit_opt_out(self) -> None:
        """Without crl_files the config is refused unless no_revocation_check_do_not_use = yes."""
        text = self.text().replace("crl_files = pki/crl.pem", "")
        self.assertTrue(any("crl_files" in p for p in self.problems(text)))
        self.parse(text.replace("client_auth = required",
                                "client_auth = required\nno_revocation_check_do_not_use = yes"))

    def test_plain_http_upstream_off_loopback_needs_opt_in(self) -> None:
        """http:// to a non-loopback host is refused unless the alarming key is set."""
        routes = "[route:api]\nprefix = /api\nupstream = http://10.1.2.3:80\n"
        self.assertTrue(any("unencrypted" in p for p in self.problems(self.text(routes=routes))))
        self.parse(self.text(routes=routes + "allow_plaintext_upstream_off_loopback_do_not_use = yes\n"))

    def test_bad_routes_are_refused(self) -> None:
        """Prefixes must be normalised absolute paths; upstreams must be plain http(s) URLs;
        two routes cannot share a prefix."""
        problems = self.problems(self.text(routes="""
[route:a]
prefix = api/../x
upstream = ftp://127.0.0.1/
[route:b]
prefix = /same
upstream = http://user:pw@127.0.0.1:9000
[route:c]
prefix = /same
upstream = http://127.0.0.1:9000?x=1
"""))
        joined = "\n".join(problems)
        self.assertIn("[route:a] prefix", joined)
        self.assertIn("[route:a] upstream", joined)
        self.assertIn("[route:b] upstream", joined)
        self.assertIn("[route:c] upstream", joined)
        self.assertIn("also the prefix", joined)

    def test_no_route_is_an_error(self) -> None:
        """A gateway with no route would refuse everything; the config says so."""
        text = self.text().split("[route:api]")[0]
        self.assertTrue(any("no route" in p for p in self.problems(text)))

    def test_unknown_layer_and_empty_chain(self) -> None:
        """[chain] layers must name known layers; an empty chain needs the alarming key."""
        text = self.text().replace("layers =\nno_security_layers_do_not_use = yes", "layers = firewall")
        self.assertTrue(any("unknown layer 'firewall'" in p for p in self.problems(text)))
        text = self.text().replace("no_security_layers_do_not_use = yes", "")
        self.assertTrue(any("no layer enabled" in p for p in self.problems(text)))

    def test_admin_listener_must_be_local(self) -> None:
        """The admin listener refuses a non-loopback address."""
        problems = self.problems(self.text(extra="[admin]\nlisten = 0.0.0.0:9443\n"))
        self.assertTrue(any(p.startswith("[admin] listen") for p in problems))
