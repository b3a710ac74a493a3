"""mime.message_bytes: the bytes Django's message() and serialize() give, written directly."""

from __future__ import annotations

import datetime as dt
import email.header
import random
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from anymail.message import AnymailMessage
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.message import forbid_multi_line_headers
from hypothesis import given, settings
from hypothesis import strategies as st

from commandcenter.accounts.models import User
from commandcenter.delivery.message import build_message, serialize
from commandcenter.delivery.mime import (
    HEADER_ENCODE_LINE,
    header_value,
    message_bytes,
    written_directly,
)
from commandcenter.delivery.tests.helpers import (
    SUBJECTS_IN_ANY_SCRIPT,
    email_in_any_script,
    scheduled_email,
)
from commandcenter.outbox.models import Email

SOME_TIME = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def both_ways(message: EmailMessage) -> tuple[bytes | Exception | None, bytes | Exception]:
    """(written directly, Django's way), with the same random boundary and the same clock;
    the ValueError instead where one refuses the message."""
    with time_machine.travel(SOME_TIME, tick=False):
        random.seed(11)
        try:
            direct: bytes | Exception | None = written_directly(message)
        except ValueError as error:
            direct = error
        random.seed(11)
        try:
            django: bytes | Exception = serialize(message.message())
        except ValueError as error:  # UnicodeError is one too
            django = error
    return direct, django


def assert_same_bytes(message: EmailMessage) -> bytes:
    direct, django = both_ways(message)
    assert isinstance(django, bytes), django
    assert isinstance(direct, bytes), direct
    assert direct == django
    return direct


def test_it_writes_the_senders_message_as_django_does(alice: User) -> None:
    email = scheduled_email(
        alice,
        subject="Quick question for {{company}}",
        body_text="Hi {{first_name}},\n\nSee https://example.com/a.\n",
        body_html="<p>Hi {{first_name}}, <a href='https://example.com/demo'>a call</a>?</p>",
    )
    Email.objects.filter(pk=email.pk).update(reference_ids="<a@x> <b@x>")
    email = Email.objects.select_related("person", "owner").get(pk=email.pk)
    message = build_message(email)

    raw = assert_same_bytes(message)

    assert b"multipart/alternative" in raw
    assert b"In-Reply-To: <b@x>" in raw


@pytest.mark.parametrize(
    ("subject", "first_name"), [*SUBJECTS_IN_ANY_SCRIPT, (" leading and trailing ", "Carol")]
)
def test_it_writes_headers_and_bodies_in_any_script_as_django_does(
    alice: User, subject: str, first_name: str
) -> None:
    body = "Hi {{first_name}},\r\n" + "long line " * 90 + "\rend"
    email = email_in_any_script(alice, subject, first_name, body)

    assert_same_bytes(build_message(email))


def test_it_writes_a_text_only_message_as_django_does(alice: User) -> None:
    email = Email.objects.select_related("person", "owner").get(pk=scheduled_email(alice).pk)
    message = build_message(email)
    assert not message.alternatives

    raw = assert_same_bytes(message)

    assert raw.startswith(b'Content-Type: text/plain; charset="utf-8"\r\n')


@pytest.mark.django_db(False)
@pytest.mark.parametrize(
    "make",
    [
        # A line longer than 998 bytes: Django writes the part quoted-printable.
        lambda: EmailMultiAlternatives("s", "x" * 999, to=["a@example.org"]),
        lambda: _OwnMessage("s", "b", to=["a@example.org"]),
        lambda: _with_attachment(),
        lambda: _in_latin_1(),
        lambda: EmailMessage("s", "b", to=["a@example.org"]),
        lambda: _with_alternative("<b>x</b>", "application/xhtml+xml"),
    ],
    ids=[
        "long line",
        "own message()",
        "attachment",
        "latin-1",
        "no alternatives class",
        "not text",
    ],
)
def test_it_leaves_other_shapes_to_django(make: Callable[[], EmailMessage]) -> None:
    message = make()

    assert written_directly(message) is None
    with time_machine.travel(SOME_TIME, tick=False):
        random.seed(3)
        expected = serialize(make().message())
        random.seed(3)
        assert message_bytes(message) == expected


class _OwnMessage(EmailMultiAlternatives):
    def message(self) -> Any:
        built = super().message()
        built["X-Own"] = "yes"
        return built


def _with_attachment() -> EmailMessage:
    message = EmailMultiAlternatives("s", "b", to=["a@example.org"])
    message.attach("a.txt", "text", "text/plain")
    return message


def _in_latin_1() -> EmailMessage:
    message = EmailMultiAlternatives("s", "b", to=["a@example.org"])
    message.encoding = "iso-8859-1"
    return message


def _with_alternative(content: str, mimetype: str) -> EmailMessage:
    message = EmailMultiAlternatives("s", "b", to=["a@example.org"])
    message.attach_alternative(content, mimetype)
    return message


@pytest.mark.django_db(False)
def test_it_keeps_a_plain_subject_as_django_would_store_it() -> None:
    assert getattr(email.header, "MAXLINELEN") == HEADER_ENCODE_LINE  # noqa: B009 - untyped
    picks = random.Random(5)
    # Where email.header may fold or collapse, and characters that only count by length.
    alphabet = "  \t;,abcXYZ09:()<>=\"'@./-_é"
    for _ in range(3000):
        value = "".join(picks.choice(alphabet) for _ in range(picks.randint(0, 100)))
        for name in ("Subject", "X-Other"):
            try:
                expected = forbid_multi_line_headers(name, value, "utf-8")[1]
            except ValueError:
                continue
            assert header_value(name, value, "utf-8") == expected


@pytest.mark.django_db(False)
def test_it_refuses_a_header_with_a_line_break_as_django_does() -> None:
    message = AnymailMessage("Hi\r\nBcc: victim@example.org", "b", to=["a@example.org"])

    with pytest.raises(ValueError, match="newlines"):
        message_bytes(message)


# Text that exercises the encodings: ASCII, Latin, CJK, emoji, line ends of all kinds, dots,
# spaces and the characters header folding breaks at.
TEXT = st.text(
    alphabet=st.sampled_from(list("ab Z09.,;:=?\"'<>()@\t\r\n-_éß中文😀\u2028\x0b")), max_size=120
)
LONG_TEXT = st.builds(lambda piece, times: piece * times, TEXT, st.integers(1, 30))
ADDRESS = st.sampled_from(
    [
        "carol@example.org",
        "Carol <carol@example.org>",
        '"O\'Hara, Carol" <carol@example.org>',
        "Zoë Ünal <zoe@example.org>",
        "李 <li@example.cn>",
        "bounce+Ab-_9x@bounces.localhost",
    ]
)


@pytest.mark.django_db(False)
@settings(max_examples=300)
@given(
    subject=TEXT,
    body=st.one_of(TEXT, LONG_TEXT),
    html=st.one_of(st.none(), TEXT, LONG_TEXT),
    sender=ADDRESS,
    to=st.lists(ADDRESS, min_size=1, max_size=3),
    cc=st.lists(ADDRESS, max_size=2),
    reply_to=st.lists(ADDRESS, max_size=2),
    extra=st.dictionaries(
        st.sampled_from(["From", "Message-ID", "References", "X-Note", "Date", "To"]),
        st.one_of(TEXT, ADDRESS),
        max_size=4,
    ),
)
def test_it_writes_what_django_writes_for_any_content(
    subject: str,
    body: str,
    html: str | None,
    sender: str,
    to: list[str],
    cc: list[str],
    reply_to: list[str],
    extra: dict[str, str],
) -> None:
    message = AnymailMessage(
        subject, body, from_email=sender, to=to, cc=cc, reply_to=reply_to, headers=extra
    )
    if html is not None:
        message.attach_alternative(html, "text/html")

    direct, django = both_ways(message)

    if direct is None:
        # Only a line too long for 8bit sends a message of this shape Django's way.
        assert any(len(line.encode()) > 998 for line in f"{body}\n{html}".splitlines())
    elif isinstance(django, Exception) or isinstance(direct, Exception):
        # Both refuse it, for the same reason.
        assert type(direct) is type(django)
        assert str(direct) == str(django)
    else:
        assert direct == django
