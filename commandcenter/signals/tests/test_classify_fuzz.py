"""classify() on bytes that are not mail, half mail, or mail broken on purpose.

Seeded random mutations (the same ones every run) of real bounces and of messages written
here. Every result must be one of the four kinds and printable as JSON, and the catch-all in
classify() must not have been needed: the parser copes with the junk itself.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pytest
from django.conf import settings

from commandcenter.signals.classify import Classification, classify

KINDS = {"bounce", "complaint", "auto_reply", "human"}
CORPUS = Path(settings.BASE_DIR).parent / "shared" / "corpora" / "bounces" / "messages"

REPORT = (
    b"From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/plain\r\n\r\nCould not be delivered.\r\n"
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
    b"--B\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <m@example.com>\r\n\r\nhi\r\n--B--\r\n"
)


def seeds() -> list[bytes]:
    found = sorted(CORPUS.glob("*.eml"))[::10] if CORPUS.is_dir() else []
    return [REPORT] + [path.read_bytes() for path in found]


def assert_sane(result: Classification, caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(result, Classification)
    assert result.kind in KINDS
    printed = json.dumps(result.as_dict(), ensure_ascii=False)
    printed.encode("utf-8")  # no lone surrogates: it can be stored and printed
    assert "could not classify" not in caplog.text


@pytest.fixture(autouse=True)
def _warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="commandcenter.signals.classify")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n",
        b"\x00" * 4096,
        b"Subject: no body",
        b": : :\r\n\r\n",
        bytes(range(256)) * 64,
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n",
        b'Content-Type: multipart/report; boundary="x"\r\n\r\n' + b"--x\r\n" * 500,
        b"Subject: =?utf-8?b?!!!not base64?=\r\nFrom: =?x-unknown?q?=FF=FE?=\r\n\r\nhi",
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xff\xfe\xfa",
        b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff",
        b"Content-Transfer-Encoding: base64\r\nContent-Type: text/plain\r\n\r\n@@@@====",
        b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822;\r\nStatus: 9.9.9",
        b"X-Long: " + b"a" * 200_000 + b"\r\n\r\nbody",
    ],
    ids=lambda raw: repr(raw[:20]),
)
def test_it_survives_junk(raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
    assert_sane(classify(raw), caplog)


def test_it_survives_deeply_nested_multiparts(caplog: pytest.LogCaptureFixture) -> None:
    raw = b""
    for depth in range(200):
        raw += f'Content-Type: multipart/mixed; boundary="b{depth}"\r\n\r\n--b{depth}\r\n'.encode()
    assert_sane(classify(raw + b"Content-Type: text/plain\r\n\r\nend"), caplog)


def test_it_survives_ten_megabyte_messages(caplog: pytest.LogCaptureFixture) -> None:
    random_bytes = random.Random(10).randbytes(10 * 1024 * 1024)
    assert_sane(classify(random_bytes), caplog)
    huge_bounce = REPORT.replace(b"hi\r\n", b"x" * (10 * 1024 * 1024) + b"\r\n")
    result = classify(huge_bounce)
    assert_sane(result, caplog)
    assert [r.address for r in result.recipients] == ["gone@example.org"]


def test_it_survives_every_truncation_of_a_report(caplog: pytest.LogCaptureFixture) -> None:
    for end in range(0, len(REPORT), 7):
        assert_sane(classify(REPORT[:end]), caplog)


def test_it_survives_random_byte_damage(caplog: pytest.LogCaptureFixture) -> None:
    generator = random.Random(4)
    for seed in seeds():
        for _ in range(25):
            damaged = bytearray(seed)
            for _ in range(generator.randint(1, 40)):
                position = generator.randrange(max(len(damaged), 1))
                damaged[position : position + 1] = generator.randbytes(generator.randint(0, 3))
            assert_sane(classify(bytes(damaged)), caplog)


def test_it_survives_lines_shuffled_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    generator = random.Random(7)
    for seed in seeds():
        lines = seed.split(b"\n")
        for _ in range(10):
            kept = [line for line in lines if generator.random() > 0.2]
            head = kept[: len(kept) // 2]
            generator.shuffle(head)
            assert_sane(classify(b"\n".join(head + kept[len(head) :])), caplog)
