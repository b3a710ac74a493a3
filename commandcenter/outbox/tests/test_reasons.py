"""Every reason our code writes is explained in the rep's language, outside words quoted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from commandcenter.delivery.queue import delivery_unknown_reason
from commandcenter.delivery.sender import human_duration
from commandcenter.demo.synthetic import REASONS
from commandcenter.outbox.merge import missing_reason
from commandcenter.outbox.reasons import explain
from commandcenter.outbox.states import Status
from commandcenter.people.models import Person, Suppression
from commandcenter.people.services import blocking_reason

# (reason as stored, our words, the quote kept as it came)
SHAPES = [
    (
        "550 5.1.1 <a@x.example>: User unknown (at RCPT TO)",
        "The mail server refused it when we named the recipient:",
        "550 5.1.1 <a@x.example>: User unknown",
    ),
    (
        "gave up after 8 attempts: 421 4.7.0 Try later (at DATA)",
        "Gave up after 8 attempts: The mail server refused it after receiving the message:",
        "421 4.7.0 Try later",
    ),
    (
        "Temporary problem: connection refused by the mail server at 127.0.0.1:25; will retry at "
        "2026-12-01 10:00:00 UTC (attempt 2 of at most 8).",
        "Not accepted yet; will try again at 2026-12-01 10:00:00 UTC (attempt 2 of at most 8): "
        "The mail server at 127.0.0.1:25 refused the connection.",
        "",
    ),
    (
        "userunknown: 550 5.1.1 no such user (hard bounce)",
        "Bounced for good (no such mailbox):",
        "550 5.1.1 no such user",
    ),
    ("mailboxfull: 452 4.2.2 mailbox full", "Bounced (mailbox full):", "452 4.2.2 mailbox full"),
    ("The recipient marked it as spam (abuse).", "The recipient marked it as spam.", "abuse"),
    ("The message cannot be built: bad header", "The message could not be built:", "bad header"),
    (
        missing_reason(["industry", "plan"], ["a@x.example"]),
        "Merge fields {{industry}}, {{plan}} are empty for a@x.example.",
        "",
    ),
    (
        "missed its send time by 7 h 12 min (the sender was not running); use Retry Send to send "
        "it now",
        "It missed its send time by 7 h 12 min (the sender was not running); use Retry "
        "Send to send it now.",
        "",
    ),
]


@pytest.mark.parametrize(("reason", "words", "quote"), SHAPES)
def test_it_explains_the_shapes_our_code_writes(reason: str, words: str, quote: str) -> None:
    explained = explain(reason)

    assert (explained.text, explained.quote) == (words, quote)


def test_it_explains_the_reasons_of_the_sender_queue_and_suppressions(db: None, alice) -> None:
    person = Person.objects.create(owner=alice, email="a@x.example")
    Suppression.objects.create(value="x.example", kind="domain", reason="competitor")
    reasons = [
        delivery_unknown_reason(timezone.now()),
        f"missed its send time by {human_duration(dt.timedelta(hours=3))} (the sender was not "
        "running); use Retry Send to send it now",
        blocking_reason(person),
    ]
    Person.objects.filter(pk=person.pk).update(unsubscribed_at=timezone.now())
    person.refresh_from_db()
    reasons.append(blocking_reason(person))

    for reason in reasons:
        assert reason and explain(reason).text, reason


@pytest.mark.parametrize("status", [Status.FAILED, Status.BOUNCED, Status.SPAM])
def test_it_explains_every_reason_the_generator_writes(status: str) -> None:
    for reason in REASONS[status]:
        assert explain(reason.format(to="a@x.example")).text, reason


def test_it_translates_and_keeps_the_quote_as_it_came() -> None:
    with translation.override("zh-hans"):
        explained = explain("userunknown: 550 5.1.1 no such user (hard bounce)")

    assert explained.text == "永久退信\uff08邮箱不存在\uff09\uff1a"
    assert explained.quote == "550 5.1.1 no such user"
    assert 'translate="no"' in explained.html()


def test_an_unknown_reason_is_shown_as_it_came_and_escaped() -> None:
    explained = explain("<b>something new</b>")

    assert (explained.text, explained.quote) == ("", "<b>something new</b>")
    assert "&lt;b&gt;" in explained.html()
