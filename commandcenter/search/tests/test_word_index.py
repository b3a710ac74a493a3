"""The word index's engagement tokens (fulltext.py): a word search beside an engagement
condition finds exactly what the conditions say, whatever the index narrows it by."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest
from django.db import connection
from django.db.models import F
from hypothesis import given
from hypothesis import strategies as st

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.search import fulltext
from commandcenter.search.filters import parse
from commandcenter.search.query import matching_emails, scope_for
from commandcenter.search.tests.conftest import email_in

COUNTS = (0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 14)
OPS = ("eq", "ne", "gte", "lte", "between")


def tokens_of(count: int, letter: str = "c") -> set[str]:
    """The tokens an email with this many clicks has in PostgreSQL's document."""
    return {f"!{letter}{level}" for level in fulltext.ENGAGEMENT_LEVELS if count >= level}


def satisfied(terms: tuple[str, ...], tokens: set[str]) -> bool:
    """Whether a document with `tokens` meets the terms ("'!c3'" or "!'!c5'")."""
    for term in terms:
        negated = term.startswith("!")
        if (term.lstrip("!").strip("'") in tokens) == negated:
            return False
    return True


def holds(count: int, op: str, value: int | tuple[int, int]) -> bool:
    if op == "between":
        assert isinstance(value, tuple)
        low, high = sorted(value)
        return low <= count <= high
    assert isinstance(value, int)
    return {
        "eq": count == value,
        "ne": count != value,
        "gte": count >= value,
        "lte": count <= value,
    }[op]


@given(
    count=st.integers(0, 40),
    op=st.sampled_from(OPS),
    low=st.integers(0, 40),
    high=st.integers(0, 40),
)
def test_the_terms_never_leave_out_an_email_that_meets_the_condition(
    count: int, op: str, low: int, high: int
) -> None:
    value: int | tuple[int, int] = (low, high) if op == "between" else low
    terms = fulltext.engagement_terms("clicks", op, value)
    if holds(count, op, value):
        assert satisfied(terms, tokens_of(count)), (count, op, value, terms)


def test_the_terms_narrow_where_the_levels_allow() -> None:
    assert fulltext.engagement_terms("clicks", "gte", 4) == ("'!c3'",)
    assert fulltext.engagement_terms("opens", "eq", 0) == ("!'!o1'",)
    assert fulltext.engagement_terms("replies", "between", (4, 1)) == ("'!r1'", "!'!r5'")
    assert fulltext.engagement_terms("clicks", "ne", 2) == ()
    assert fulltext.engagement_terms("clicks", "lte", 40) == ()
    assert fulltext.engagement_terms("opens_all", "gte", 1) == ()


@pytest.fixture
def mailbox(alice: User, bob: User) -> list[Email]:
    """Alice's emails with every mix of counts, half of them with the word; one of Bob's."""
    emails = []
    for n, (opens, clicks) in enumerate(itertools.product(COUNTS, COUNTS[::2])):
        body = "a question for you" if n % 2 else "hello"
        emails.append(
            email_in(
                Status.DELIVERED,
                alice,
                to=f"p{n}@a.example",
                subject="Hi",
                body_text=body,
                opens=opens,
                clicks=clicks,
                replies=n % 3,
            )
        )
    email_in(Status.DELIVERED, bob, to="b@b.example", body_text="question", clicks=3)
    return emails


def found(alice: User, document: Mapping[str, object]) -> set[int]:
    scope = scope_for(alice, (alice.pk,))
    return set(matching_emails(parse(document), scope).values_list("pk", flat=True))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("field", ["opens", "clicks", "replies"])
def test_a_word_search_with_engagement_finds_what_the_columns_say(
    alice: User, mailbox: list[Email], field: str, op: str
) -> None:
    values: tuple[int | tuple[int, int], ...] = (
        ((1, 4), (0, 2), (5, 12)) if op == "between" else (0, 1, 2, 4, 10, 12)
    )
    for value in values:
        as_json = list(value) if isinstance(value, tuple) else value
        condition = {"field": field, "op": op, "value": as_json}
        document = {"all": [{"field": "text", "op": "contains", "value": "question"}, condition]}
        expected = {
            email.pk
            for email in mailbox
            if "question" in email.body_text and holds(getattr(email, field), op, value)
        }
        assert found(alice, document) == expected, condition
        # The same under an OR and a NOT inside the AND: the narrowing changes nothing.
        nested = {
            "all": [
                condition,
                {"not": {"field": "text", "op": "contains", "value": "hello"}},
                {"any": [{"field": "text", "op": "contains", "value": "question"}]},
            ]
        }
        assert found(alice, nested) == expected, condition


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's document")
def test_the_tokens_follow_the_counts_as_they_change(alice: User, mailbox: list[Email]) -> None:
    email = mailbox[1]
    Email.objects.filter(pk=email.pk).update(clicks=0)
    question_clicked = {
        "all": [
            {"field": "text", "op": "contains", "value": "question"},
            {"field": "clicks", "op": "gte", "value": 2},
        ]
    }
    assert email.pk not in found(alice, question_clicked)
    for clicks in range(1, 12):
        Email.objects.filter(pk=email.pk).update(clicks=F("clicks") + 1)
        with connection.cursor() as cursor:
            document = fulltext.PG_DOCUMENT.format(t="")
            cursor.execute(
                f"SELECT {document}::text FROM outbox_email WHERE id = %s",  # noqa: S608
                [email.pk],
            )
            (text,) = cursor.fetchone()
        assert {token.strip("'") for token in text.split() if "!c" in token} == tokens_of(clicks)
        assert (email.pk in found(alice, question_clicked)) == (clicks >= 2)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's index")
def test_the_query_is_answered_by_the_word_index(alice: User, mailbox: list[Email]) -> None:
    """The query's document must be the very expression of the index, or PostgreSQL reads
    and tests every email."""
    query = matching_emails(
        parse(
            {
                "all": [
                    {"field": "text", "op": "contains", "value": "question"},
                    {"field": "clicks", "op": "gte", "value": 1},
                ]
            }
        ),
        scope_for(alice, (alice.pk,)),
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "search_email_words" in plan
    assert "'!c1'" in plan
