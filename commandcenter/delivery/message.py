"""Turning an Email row into the message that goes to the mail server."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Sequence
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import Message
from email.policy import Policy
from email.utils import parseaddr
from functools import lru_cache
from io import BytesIO
from typing import Any

from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, make_msgid

from commandcenter.outbox.merge import MissingMergeField, Rendered, render_for
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.tracking.instrument import instrument_many, unsubscribe_headers


def verp_address(email: Email) -> str:
    """The envelope sender: bounces come back to an address that names this one email."""
    return f"bounce+{email.token}@{settings.BOUNCE_DOMAIN}"


def new_message_id() -> str:
    """A fresh Message-ID (with its angle brackets, as it appears in the header)."""
    return make_msgid(domain=settings.BOUNCE_DOMAIN)


def rep_address(email: Email) -> str:
    """The rep who sends it, as "Display Name <address>" with the name safely quoted."""
    rep = email.owner
    address = rep.email or settings.DEFAULT_FROM_EMAIL
    return _formatted_address(rep.display_name, address) or settings.DEFAULT_FROM_EMAIL


@lru_cache(maxsize=1024)
def _formatted_address(display_name: str, address: str) -> str:
    """The From header's value, Name <address>; the bare address when the pair cannot be a
    header ("" when neither can). A batch has a few reps and many emails: each pair is
    formatted once."""
    # Names come from people: never let one carry a line break into a header.
    name = " ".join(display_name.split())
    try:
        return str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError):
        return parseaddr(address)[1]


def render_email(email: Email) -> Rendered:
    """Fills the merge fields for the recipient as they are now (merge.py's one rule);
    MissingMergeField when one cannot be filled."""
    subject, text, html = email.written()
    return render_for(email.owner, email.person, subject, text, html)


def keep_rendered(
    emails: Sequence[Email], outcomes: Sequence[Rendered | MissingMergeField]
) -> None:
    """Store the filled content where it differs from what the email showed (its person
    changed since it was scheduled): an email's subject and bodies are what went out.

    Run in the transaction of the group's handoff stamps, so it commits with them.
    """
    for email, outcome in zip(emails, outcomes, strict=True):
        if not isinstance(outcome, Rendered):
            continue
        shown = (email.subject, email.body_text, email.body_html)
        if shown != (outcome.subject, outcome.body_text, outcome.body_html):
            Email.objects.filter(pk=email.pk, status=Status.IN_PROGRESS).update(
                subject=outcome.subject, body_text=outcome.body_text, body_html=outcome.body_html
            )


def build_message(email: Email, *, verp: bool = True) -> EmailMultiAlternatives:
    """The email rendered for its recipient: merge fields filled, tracking added, headers set.

    Raises MissingMergeField when a merge field cannot be filled for the recipient, and
    ValueError for a header value that cannot be used.
    `verp=False` is for ESP backends, which collect bounces themselves: the envelope sender
    is then the rep.
    """
    built = build_messages([email], verp=verp)[0]
    if isinstance(built, Exception):
        raise built
    return built


def build_messages(
    emails: Sequence[Email], *, verp: bool = True
) -> list[EmailMultiAlternatives | MissingMergeField | ValueError]:
    """build_message() for a group: render each, add tracking to all of them at once (one
    query for the links, see instrument_many), then assemble each. In the emails' order:
    the message, or why it cannot be built (a merge field that cannot be filled, a bad
    header value), so that one email's problem stays its own."""
    outcomes: list[Rendered | MissingMergeField] = []
    for email in emails:
        try:
            outcomes.append(render_email(email))
        except MissingMergeField as error:
            outcomes.append(error)
    keep_rendered(emails, outcomes)
    instrumented = iter(
        instrument_many(
            [
                (email, outcome.body_html, outcome.body_text)
                for email, outcome in zip(emails, outcomes, strict=True)
                if isinstance(outcome, Rendered)
            ]
        )
    )
    built: list[EmailMultiAlternatives | MissingMergeField | ValueError] = []
    for email, outcome in zip(emails, outcomes, strict=True):
        if not isinstance(outcome, Rendered):
            built.append(outcome)
            continue
        html, text = next(instrumented)
        try:
            built.append(assemble(email, outcome.subject, html, text, verp=verp))
        except ValueError as error:  # UnicodeError is one too
            built.append(error)
    return built


def assemble(
    email: Email, subject: str, html: str, text: str, *, verp: bool
) -> EmailMultiAlternatives:
    """The message of a rendered, instrumented email, with its headers and envelope sender."""
    sender = rep_address(email)
    headers = dict(unsubscribe_headers(email))
    if verp:
        headers["From"] = sender
    if email.message_id:
        headers["Message-ID"] = email.message_id
    headers.update(thread_headers(email))
    message = AnymailMessage(
        subject=subject,
        body=text,
        from_email=verp_address(email) if verp else sender,
        to=[email.to_address],
        reply_to=[sender],
        headers=headers,
        # ESPs hand this back in their webhooks (django-anymail), so events find their email.
        metadata={"email_token": email.token},
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


def thread_headers(email: Email) -> dict[str, str]:
    """In-Reply-To and References of a threaded follow-up (a campaign step with "thread"):
    the Message-IDs of the emails that person actually got, the last one answered."""
    references = email.reference_ids.split()
    if not references:
        return {}
    return {"In-Reply-To": references[-1], "References": " ".join(references)}


# RFC 5322's recommended line length, which the stdlib folds headers at.
HEADER_LINE = 78
# A MIME boundary's random digits, as many as the stdlib's generator writes.
BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


def serialize(message: Message) -> bytes:
    """The message as it goes over SMTP: what Django's `as_bytes()` with CRLF line ends
    gives, byte for byte, at a fraction of the cost."""
    out = BytesIO()
    _Generator(out, mangle_from_=False).flatten(message, linesep="\r\n")
    return out.getvalue()


def fold_header(policy: Policy, name: str, value: Any) -> bytes:
    """One header line as the policy writes it; a short plain-ASCII one without its help.

    Folding every header through email.header is most of the cost of serializing a
    message, and a header that fits on one line comes out of it unchanged.
    """
    if (
        isinstance(value, str)
        and len(name) + 2 + len(value) <= HEADER_LINE
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
        and "  " not in value
    ):
        return f"{name}: {value}{policy.linesep}".encode("ascii")
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return fold_like_its_shape(policy, name, value)
    return policy.fold_binary(name, value)


# The characters the header folding algorithm (email.header's, which compat32 policies use
# for a plain-ASCII value) looks at: where lines may break. Every other one counts only by
# its length, so two values of the same shape (those characters in the same places, "x" for
# all others) fold at the same places, whatever the others are.
FOLDING_CHARACTERS = " \t;,"
SHAPE = str.maketrans({chr(c): "x" for c in range(128) if chr(c) not in FOLDING_CHARACTERS})
# One recipe per shape: the folded line as literal text between runs of the value's own
# characters. The long headers of a group's messages share their shape (a List-Unsubscribe
# with a token, a multipart Content-Type with a boundary), so each is folded by the stdlib
# once and then only copied.
FoldRecipe = list[tuple[str, int, int]]
_recipes: dict[tuple[Any, ...], FoldRecipe | None] = {}
MAX_RECIPES = 512


def fold_like_its_shape(policy: Policy, name: str, value: str) -> bytes:
    """policy.fold_binary(name, value) for a printable ASCII value, from its shape's recipe."""
    shape = value.translate(SHAPE)
    key = (type(policy), policy.linesep, policy.max_line_length, name, shape)
    if key not in _recipes:
        if len(_recipes) >= MAX_RECIPES:
            _recipes.clear()
        _recipes[key] = fold_recipe(shape, policy.fold_binary(name, shape).decode("ascii"))
    recipe = _recipes[key]
    if recipe is None:
        return policy.fold_binary(name, value)
    return "".join(literal + value[start:end] for literal, start, end in recipe).encode("ascii")


def fold_recipe(shape: str, folded: str) -> FoldRecipe | None:
    """How to write a value of this shape folded: (literal text, then value[start:end])
    pieces; None when the folding did not keep each run of "x" whole and in order."""
    runs = [(m.start(), m.end()) for m in re.finditer("x+", shape)]
    recipe: FoldRecipe = []
    position = 0
    for index, match in enumerate(re.finditer("x+", folded)):
        if index >= len(runs) or runs[index][1] - runs[index][0] != len(match.group()):
            return None
        recipe.append((folded[position : match.start()], *runs[index]))
        position = match.end()
    if len(recipe) != len(runs):
        return None
    recipe.append((folded[position:], 0, 0))
    return recipe


class _Generator(BytesGenerator):
    # Overrides the stdlib generator's (private, but stable) header writer; sub-parts are
    # written by clones of this class, so they take the same path.
    def _write_headers(self, msg: Message) -> None:
        policy = self.policy
        assert policy is not None, "flatten() sets the policy before writing headers"
        for name, value in msg.raw_items():
            self.write_bytes(fold_header(policy, name, value))
        self.write_bytes(policy.linesep.encode("ascii"))

    @classmethod
    def _make_boundary(cls, text: Any = None) -> str:
        return new_boundary(text)

    def write_bytes(self, data: bytes) -> None:
        self._fp.write(data)  # type: ignore[attr-defined]


def new_boundary(text: str | bytes | None) -> str:
    """A MIME boundary as the stdlib's generator makes one (the same random digits), found
    nowhere in the text of the parts it separates."""
    # The stdlib checks its random boundary against the text with a regular expression
    # compiled for that one boundary (a third of the cost of serializing a message).
    # A boundary found nowhere in the text cannot begin one of its lines either.
    token = f"{random.randrange(sys.maxsize):0{BOUNDARY_DIGITS}d}"
    boundary = candidate = f"{'=' * 15}{token}=="
    counter = 0
    while text is not None and _found_in(text, candidate):
        candidate = f"{boundary}.{counter}"
        counter += 1
    return candidate


def _found_in(text: str | bytes, boundary: str) -> bool:
    if isinstance(text, bytes):
        return boundary.encode("ascii") in text
    return boundary in text
