"""Path normalisation: one canonical path, and a 400 for anything servers could read two ways."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from stoad.proxy.pathnorm import normalise_path


class NormalisedFormTests(SynchronousTestCase):
    def test_plain_path_is_unchanged(self) -> None:
        """An already canonical path comes back as it was, trailing slash included."""
        self.assertEqual(normalise_path("/api/items/"), "/api/items/")
        self.assertEqual(normalise_path("/api/items"), "/api/items")
        self.assertEqual(normalise_path("/"), "/")

    def test_unreserved_escapes_are_decoded(self) -> None:
        """Percent-encoded letters, digits and -._~ are decoded: /%70ii/ is /pii/."""
        self.assertEqual(normalise_path("/%70ii/"), "/pii/")
        self.assertEqual(normalise_path("/%41%7a%30%2D%2e%5F%7E"), "/Az0-._~")

    def test_other_escapes_are_kept_upper_case(self) -> None:
        """Reserved and non-ASCII escapes stay encoded, with upper-case hex digits."""
        self.assertEqual(normalise_path("/a%3fb/%c3%a9"), "/a%3Fb/%C3%A9")

    def test_duplicate_slashes_collapse(self) -> None:
        """//pii/ and /a///b are /pii/ and /a/b."""
        self.assertEqual(normalise_path("//pii/"), "/pii/")
        self.assertEqual(normalise_path("/a///b"), "/a/b")

    def test_dot_segments_are_removed(self) -> None:
        """/a/../pii/ is /pii/, /./x is /x, and .. never climbs above the root."""
        self.assertEqual(normalise_path("/a/../pii/"), "/pii/")
        self.assertEqual(normalise_path("/./x"), "/x")
        self.assertEqual(normalise_path("/../../pii"), "/pii")
        self.assertEqual(normalise_path("/a/b/.."), "/a/")
        self.assertEqual(normalise_path("/a/b/."), "/a/b/")

    def test_encoded_dot_segments_are_removed(self) -> None:
        """Dots are unreserved, so /a/%2e%2e/pii/ is decoded first and then resolved to /pii/."""
        self.assertEqual(normalise_path("/a/%2e%2e/pii/"), "/pii/")
        self.assertEqual(normalise_path("/a/.%2E/pii"), "/pii")

    def test_case_insensitive_lowers_letters_outside_escapes(self) -> None:
        """On a case-insensitive route /PII/ is /pii/; escapes keep their upper-case hex."""
        self.assertEqual(normalise_path("/PII/", case_insensitive=True), "/pii/")
        self.assertEqual(normalise_path("/A%3fB", case_insensitive=True), "/a%3Fb")

    def test_case_is_kept_by_default(self) -> None:
        """Without the route option the case is the client's."""
        self.assertEqual(normalise_path("/PII/"), "/PII/")

    def test_normalising_twice_changes_nothing(self) -> None:
        """The canonical form is a fixed point."""
        for raw in ("/a/../b//c/%7e", "/X/%c3%a9/./", "/%70ii"):
            once = normalise_path(raw)
            self.assertEqual(normalise_path(once), once)


class RefusedPathTests(SynchronousTestCase):
    def assertRefused(self, raw: str, reason: str) -> None:
        with self.assertRaises(ValueError) as caught:
            normalise_path(raw)
        self.assertIn(reason, str(caught.exception))

    def test_encoded_slash_is_refused(self) -> None:
        """%2F and %2f would become a separator upstream: refused."""
        self.assertRefused("/a%2Fpii/", "encoded slash")
        self.assertRefused("/a%2fpii/", "encoded slash")

    def test_encoded_backslash_is_refused(self) -> None:
        """%5C would become a separator on Windows upstreams: refused."""
        self.assertRefused("/a%5cpii", "encoded backslash")

    def test_backslash_is_refused(self) -> None:
        """A raw backslash is refused."""
        self.assertRefused("/a\\..\\pii", "backslash")

    def test_nul_is_refused(self) -> None:
        """NUL, raw or encoded, is refused."""
        self.assertRefused("/pii\x00.txt", "NUL")
        self.assertRefused("/pii%00.txt", "NUL")

    def test_invalid_percent_encoding_is_refused(self) -> None:
        """%zz, a lone % and a truncated escape are refused."""
        for raw in ("/a%zz", "/a%", "/a%4", "/a%g1"):
            self.assertRefused(raw, "invalid percent-encoding")

    def test_double_encoding_is_refused(self) -> None:
        """%2570 would read /%70 to one decoder and /p to a second: refused."""
        self.assertRefused("/%2570ii/", "double percent-encoding")
        self.assertRefused("/a%252Fb", "double percent-encoding")

    def test_path_parameters_are_refused(self) -> None:
        """/pii;x/ is refused: Tomcat reads /pii/, others /pii;x/."""
        self.assertRefused("/pii;x/", "path parameters")
        self.assertRefused("/api;jsessionid=1/pii", "path parameters")

    def test_query_and_fragment_are_refused(self) -> None:
        """The caller splits the query off; a ? or # left in the path is refused."""
        self.assertRefused("/a?b", "query or fragment")
        self.assertRefused("/a#b", "query or fragment")

    def test_relative_and_asterisk_forms_are_refused(self) -> None:
        """A path must start with /."""
        for raw in ("", "*", "api/x", "http://evil/x"):
            self.assertRefused(raw, "must start with /")

    def test_control_and_non_ascii_characters_are_refused(self) -> None:
        """Spaces, control characters and raw non-ASCII characters are refused."""
        self.assertRefused("/a b", "control character")
        self.assertRefused("/a\r\nb", "control character")
        self.assertRefused("/a\x7f", "control character")
        self.assertRefused("/p\u0131i", "non-ASCII")
