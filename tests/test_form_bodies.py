"""Form bodies are forwarded as bytes: the HTTP layer neither parses them nor reads a POST's
Content-Type through the email package (Twisted's Request does both by default)."""

from __future__ import annotations

from unittest import mock

from twisted.web import http

from tests.test_gateway import GatewayTestCase, _Layer


class FormBodyTests(GatewayTestCase):
    def test_urlencoded_and_multipart_bodies_reach_the_upstream_unparsed(self) -> None:
        """A url-encoded and a multipart POST (even a malformed one, which Twisted would answer
        400 itself) are handed to the chain and forwarded byte for byte, and Twisted's
        Content-Type and form parsers are never called."""
        seen = []
        self.build(_Layer(request=lambda ctx: seen.append(ctx.body)))
        bodies = [
            (b"application/x-www-form-urlencoded", b"a=1&b=%20two&a=3"),
            (b"multipart/form-data; boundary=xyz", b"--xyz\r\nnot really multipart"),
        ]
        with mock.patch.object(http, "_parseContentType", side_effect=AssertionError), \
                mock.patch.object(http, "_getMultiPartArgs", side_effect=AssertionError):
            for content_type, body in bodies:
                status, _, _ = self.call(
                    b"POST /api/form HTTP/1.1\r\nHost: gw\r\nContent-Type: " + content_type
                    + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n", body)
                self.assertEqual(status, 200)
        self.assertEqual(seen, [body for _, body in bodies])
        self.assertEqual([sent[3] for sent in self.forwarder.sent], [body for _, body in bodies])
