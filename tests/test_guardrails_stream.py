"""Stream-aware scanning of SSE responses: values split across events are found and redacted whole."""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from stoad.guardrails import GuardrailsLayer
from stoad.runtime.chain import ResponseHead
from tests.test_guardrails_response import GITHUB, context, make_layer, run

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY9Zq2Ld8KEy"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
       "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
       "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo\n-----END RSA PRIVATE KEY-----")


def deltas(text: str, sizes: list[int]) -> list[bytes]:
    """An LLM-style stream: the text cut into pieces, each in a JSON chunk event."""
    out = []
    i = 0
    n = 0
    while i < len(text):
        piece = text[i:i + sizes[n % len(sizes)]]
        i += len(piece)
        n += 1
        chunk = {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": {"content": piece}}]}
        out.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def content_of(stream: bytes) -> str:
    """The text an LLM client rebuilds from the chunk events."""
    text = []
    for event in stream.split(b"\n\n"):
        if event.startswith(b"data: {"):
            text.append(json.loads(event[6:])["choices"][0]["delta"]["content"])
    return "".join(text)


class AcrossEventsTests(SynchronousTestCase):
    def test_secret_split_across_json_events_redacted_whole(self) -> None:
        """A token cut over several chunk events at any point reaches the client as one marker."""
        text = f"Your token is {GITHUB} - keep it safe."
        for sizes in ([1], [3], [7, 2], [20], [30, 5]):
            out = run(make_layer(), context(), "text/event-stream", deltas(text, sizes))
            self.assertEqual(content_of(out), "Your token is [REDACTED:github_token] - keep it safe.", sizes)
            for i in range(0, len(GITHUB) - 5):
                self.assertNotIn(GITHUB[i:i + 6].encode(), out, sizes)

    def test_pii_split_across_plain_events(self) -> None:
        """A card number split over plain-text events is redacted; the text around it stays."""
        events = [b"data: pay with 4111 11\n\n", b"data: 11 1111 1111\n\n", b"data:  thanks\n\n"]
        out = run(make_layer(), context(), "text/event-stream", events)
        self.assertEqual(out, b"data: pay with [REDACTED:card]\n\ndata: \n\ndata:  thanks\n\n")

    def test_aws_secret_in_prose_split(self) -> None:
        """A secret whose rule needs context from an earlier event (AWS secret in prose) is found."""
        text = f"The AWS secret key is {AWS_SECRET}, rotate it."
        out = run(make_layer(), context(), "text/event-stream", deltas(text, [4]))
        self.assertEqual(content_of(out), "The AWS secret key is [REDACTED:aws_secret_access_key], rotate it.")

    def test_pem_key_split_across_many_events(self) -> None:
        """Nothing of a PEM private key streamed line by line leaks: BEGIN to END is one marker."""
        text = f"here:\n{PEM}\ndone"
        out = run(make_layer(), context(), "text/event-stream", deltas(text, [9]))
        self.assertEqual(content_of(out), "here:\n[REDACTED:private_key]\ndone")

    def test_block_across_events_sends_no_part(self) -> None:
        """With secrets blocked, a token split over events ends the stream and no part of it is sent."""
        layer = make_layer({"secrets.response": "block"})
        out = run(layer, context(), "text/event-stream", deltas(f"token {GITHUB} end", [8]))
        self.assertNotIn(GITHUB[:8].encode(), out)
        self.assertNotIn(GITHUB[-8:].encode(), out)
        self.assertTrue(out.endswith(b'event: guardrail\ndata: {"error":"guardrail_blocked","detector":"secrets"}\n\n'))

    def test_alert_across_events_passes_unchanged(self) -> None:
        """With secrets on alert a split token is counted and the stream passes byte for byte."""
        layer = make_layer({"secrets.response": "alert"})
        ctx = context()
        events = deltas(f"token {GITHUB} end", [8])
        out = run(layer, ctx, "text/event-stream", events)
        self.assertEqual(out, b"".join(events))
        self.assertEqual([(t.detector, t.action) for t in ctx.guardrail_triggers], [("secrets", "alert")])

    def test_hold_back_is_at_most_one_window(self) -> None:
        """An event is held only until a window of later text follows it; the rest comes at the end."""
        layer = make_layer({"stream_window": "64"})
        body_filter = layer.on_response(context(), ResponseHead(200, {"content-type": ["text/event-stream"]}))
        assert body_filter is not None
        sent = []
        for i in range(20):
            sent.append(body_filter.feed(f"data: {'w' * 15}{i:>2} \n\n".encode()))
            held = i + 1 - sum(part.count(b"\n\n") for part in sent)
            self.assertLessEqual(held * 18 - 18, 64, i)  # all but the newest fit in the window
        self.assertEqual(sent[:3], [b"", b"", b""])
        self.assertNotEqual(sent[10], b"")
        rest = body_filter.finish()
        self.assertEqual((b"".join(sent) + rest).count(b"\n\n"), 20)

    def test_constant_members_do_not_hold_events(self) -> None:
        """Members repeated unchanged in every event (id, model) are no text stream: only the text paces release."""
        layer = make_layer({"stream_window": "16"})
        body_filter = layer.on_response(context(), ResponseHead(200, {"content-type": ["text/event-stream"]}))
        assert body_filter is not None
        events = deltas("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL", [4])[:-1]
        released = [body_filter.feed(event).count(b"\n\n") for event in events]
        self.assertEqual(released[:4], [0, 0, 0, 0])  # 16 characters must follow the first event
        self.assertEqual(released[4:], [1] * (len(events) - 4))

    def test_separate_json_paths_do_not_join(self) -> None:
        """Strings at different JSON paths are different streams: ids and models do not glue to text."""
        events = [b'data: {"id":"ghp_aB3dE5fG7hJ9kL1m","t":"a"}\n\n', b'data: {"id":"x","t":"N3pQ5rS7tU9vW1xY3z5A"}\n\n']
        out = run(make_layer(), context(), "text/event-stream", events)
        self.assertEqual(out, b"".join(events))


class DataLinesTests(SynchronousTestCase):
    def test_join_tried_when_a_fragment_already_looks_like_a_candidate(self) -> None:
        """(b) A token over two data: lines is found whole even when its first line alone is a candidate."""
        first, second = "sk-proj-Ab3dEf6hIj9kLm2nOp5q", "Rs8tUv1wXy4zAb7cDe0f"
        out = run(make_layer({"stream_window": "0"}), context(), "text/event-stream",
                  [f"data: key {first}\ndata: {second}\n\n".encode()])
        self.assertNotIn(second.encode(), out)
        self.assertEqual(out, b"data: key [REDACTED:openai_key]\n\n")


def plain_events(text: str, cuts: list[int]) -> list[bytes]:
    """Plain-text events, the text cut at the given offsets."""
    bounds = [0, *cuts, len(text)]
    return [b"data: " + text[a:b].encode() + b"\n\n" for a, b in zip(bounds, bounds[1:], strict=False)]


def redact_all() -> GuardrailsLayer:
    return make_layer({"pii.response": "redact", "secrets.response": "redact"})


def joined_data(out: bytes) -> str:
    return "".join(line[6:].decode() for line in out.split(b"\n") if line.startswith(b"data: "))


class SplitValueTests(SynchronousTestCase):
    """Values split where the independent corpus split them (tests/data/guardrails/independent)."""

    def test_prefix_that_alone_looks_like_a_token_goes_whole(self) -> None:
        """A key whose first part alone already looks like a key is redacted whole, not just that part."""
        key = "sk-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A7c9E1g3I5kM7o"
        for cut in (24, 30, 40):
            text = f"your key {key} is ready"
            out = run(redact_all(), context(), "text/event-stream", plain_events(text, [9 + cut]))
            self.assertEqual(joined_data(out), "your key [REDACTED:openai_key] is ready", cut)

    def test_url_password_after_the_cut_is_found_with_the_scheme_before_it(self) -> None:
        """A password wholly in the second event is found with the C{scheme://user:} held from the first."""
        password = "Xy7pQ2vL9mK4nR8sTb"
        events = [b"data: db postgres://etl:\n\n", f"data: {password}@db.internal:5432/app ok\n\n".encode()]
        out = run(redact_all(), context(), "text/event-stream", events)
        self.assertNotIn(password[:8].encode(), out)
        self.assertIn(b"[REDACTED:url_password]", out)

    def test_value_over_two_of_several_data_lines(self) -> None:
        """A key over two data: lines among others is found though the line after it starts with a word."""
        key = "AKIA" + "Q2W3E4R5T6Y7U2I3"
        block = f"data: Customer record\ndata: key = {key[:10]}\ndata: {key[10:]}\ndata: status = active\n\n"
        out = run(make_layer({"stream_window": "0"}), context(), "text/event-stream", [block.encode()])
        self.assertNotIn(key[10:].encode(), out)
        self.assertIn(b"[REDACTED:aws_access_key_id]", out)

    def test_name_split_over_data_lines(self) -> None:
        """C{NAME=value} cut inside the name: the value is found with the name glued back together."""
        value = "k!gj*W30dJ4iB2dARyZgwDvq"
        block = f"data: env SENTRY_AUTH_T\ndata: OKEN={value} ok\n\n"
        out = run(make_layer({"stream_window": "0"}), context(), "text/event-stream", [block.encode()])
        self.assertNotIn(value[:8].encode(), out)
        self.assertIn(b"[REDACTED:generic_secret]", out)


# A PuTTY key file (format 3): no END line; it ends with its Private-MAC line.
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PPK_LINES = ["".join(_B64[(i * 7 + j * 13 + i * j) % 64] for j in range(64)) for i in range(8)]


def ppk(public: int = 3, private: int = 5) -> str:
    return "\n".join(["PuTTY-User-Key-File-3: ssh-rsa", "Encryption: none", "Comment: rsa-key-20251108",
                      f"Public-Lines: {public}", *_PPK_LINES[:public], f"Private-Lines: {private}",
                      *_PPK_LINES[public:public + private],
                      "Private-MAC: 13e58c50e3f2a428420429e2123cf97439c5dad034ef6694b32917114ae4bc91"])


PPK = ppk()


class PuttyKeyTests(SynchronousTestCase):
    """PuTTY .ppk keys over events and over the data: lines of one event (issue 14, heldout3's misses)."""

    def assert_no_key_line(self, out: bytes) -> None:
        text = out.decode("utf-8")
        for line in _PPK_LINES:
            self.assertNotIn(line[10:30], text.replace("\n", "").replace("data: ", ""))

    def test_ppk_split_over_events_longer_than_the_window(self) -> None:
        """A .ppk whose header and Encryption line come in one event and its key lines in later events, each longer
        than the window: nothing after the header leaks (the key stays open on the stream until its Private-MAC
        line, as a PEM key does until END), and the text after the key is sent."""
        parts = PPK.split("\n")
        texts = ["here is the key file you asked for, straight from the vault export:\n" + "\n".join(parts[:3]) + "\n",
                 "\n".join(parts[3:8]) + "\n", "\n".join(parts[8:]) + "\n", "(done)"]
        events = [b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}).encode() + b"\n\n"
                  for t in texts]
        out = run(make_layer({"stream_window": "64"}), context(), "text/event-stream", events)
        self.assert_no_key_line(out)
        self.assertEqual(content_of(out), "here is the key file you asked for, straight from the vault export:\n"
                                          "[REDACTED:private_key]\n\n(done)")

    def test_ppk_streamed_in_small_deltas(self) -> None:
        """A .ppk in 9-character chunk events is one marker, and the text after it is sent (a key closed by its
        Private-MAC line is not opened again by its own header)."""
        out = run(make_layer({"stream_window": "64"}), context(), "text/event-stream",
                  deltas(f"here:\n{PPK}\n(done)", [9]))
        self.assert_no_key_line(out)
        self.assertEqual(content_of(out), "here:\n[REDACTED:private_key]\n\n(done)")

    def test_ppk_over_the_data_lines_of_one_event(self) -> None:
        """A .ppk over the data: lines of one event, one line cut in two (a few lines: joined boundary by
        boundary), is redacted whole: the lines kept apart already hold it, so they are not glued."""
        lines = ["[04/11/2025 09:59] Liam", *ppk(2, 3).split("\n"), "[04/11/2025 10:02] Matteo: thanks"]
        lines[8:9] = [lines[8][:20], lines[8][20:]]
        self.assertLessEqual(len(lines), 16)
        event = "".join(f"data: {line}\n" for line in lines).encode() + b"\n"
        out = run(redact_all(), context(), "text/event-stream", [event])
        self.assert_no_key_line(out)
        self.assertTrue(out.startswith(b"data: [04/11/2025 09:59] Liam\ndata: [REDACTED:private_key]"), out[:80])

    def test_ppk_in_an_indented_manifest_over_many_data_lines(self) -> None:
        """A .ppk indented in a Kubernetes manifest over more data: lines than are joined one by one is redacted
        whole: lines are joined all at once only where the lines kept apart do not already hold the value."""
        manifest = ["apiVersion: v1", "kind: Secret", "metadata:", "  name: crm-sync", "stringData:",
                    "  signingKeyPem: |", *("    " + line for line in PPK.split("\n"))]
        manifest[10:11] = [manifest[10][:30], manifest[10][30:]]
        self.assertGreater(len(manifest), 16)
        event = "".join(f"data: {line}\n" for line in manifest).encode() + b"\n"
        out = run(redact_all(), context(), "text/event-stream", [event])
        self.assert_no_key_line(out)
        self.assertIn(b"data: kind: Secret\n", out)
