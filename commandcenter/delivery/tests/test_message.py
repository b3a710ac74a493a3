"""build_message: merge fields, escaping, headers, the VERP envelope sender."""

from __future__ import annotations

import random
from email import policy

import pytest
from django.core.mail.message import sanitize_address
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.message import (
    build_message,
    build_messages,
    fold_like_its_shape,
    serialize,
    verp_address,
)
from commandcenter.delivery.tests.helpers import (
    SUBJECTS_IN_ANY_SCRIPT,
    email_in_any_script,
    scheduled_email,
)
from commandcenter.delivery.transport import envelope_address
from commandcenter.outbox.merge import MissingMergeField
from commandcenter.outbox.models import Email
from commandcenter.people.models import Person

pytestmark = pytest.mark.django_db


def test_it_fills_merge_fields_and_escapes_them_in_html(alice: User) -> None:
    email = scheduled_email(
        alice,
        subject="For {{first_name}} at {{company}}",
        body_text="Hi {{first_name}}",
        body_html="<p>Hi {{first_name}}</p>",
    )
    Person.objects.filter(pk=email.person_id).update(first_name="<b>Carol</b>")
    email.refresh_from_db()

    message = build_message(email)

    assert message.subject == "For <b>Carol</b> at Acme"
    assert message.body == "Hi <b>Carol</b>"
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    # (tracking may add its pixel after the content)
    assert str(html).startswith("<p>Hi &lt;b&gt;Carol&lt;/b&gt;</p>")


def test_it_sends_from_the_rep_with_a_verp_envelope(alice: User, settings: SettingsWrapper) -> None:
    settings.BOUNCE_DOMAIN = "bounce.example.net"
    User.objects.filter(pk=alice.pk).update(first_name="Alice", last_name="O'Hara, Sales")
    email = Email.objects.select_related("owner").get(pk=scheduled_email(alice).pk)

    message = build_message(email)

    assert message.from_email == f"bounce+{email.token}@bounce.example.net"
    assert message.from_email == verp_address(email)
    assert message.extra_headers["From"] == '"Alice O\'Hara, Sales" <alice@example.com>'
    assert message.reply_to == ['"Alice O\'Hara, Sales" <alice@example.com>']
    assert message.to == ["carol@example.org"]
    parsed = message.message()
    assert parsed["From"] == '"Alice O\'Hara, Sales" <alice@example.com>'


def test_it_keeps_a_merge_field_from_breaking_the_subject_line(alice: User) -> None:
    email = scheduled_email(alice, subject="About {{company}}")
    Person.objects.filter(pk=email.person_id).update(company="Acme\r\nBcc: victim@example.com")
    email.refresh_from_db()

    message = build_message(email)

    assert message.subject == "About Acme Bcc: victim@example.com"
    assert "victim" not in str(message.message()["Bcc"] or "")


def test_it_refuses_a_merge_field_that_cannot_be_filled(alice: User) -> None:
    email = scheduled_email(alice)
    Email.objects.filter(pk=email.pk).update(template_subject="Your {{plan}}")
    email.refresh_from_db()

    with pytest.raises(MissingMergeField, match="plan"):
        build_message(email)


def test_it_uses_the_rep_as_envelope_sender_for_an_esp(alice: User) -> None:
    email = scheduled_email(alice)

    message = build_message(email, verp=False)

    assert message.from_email == "alice <alice@example.com>"
    assert "From" not in message.extra_headers
    assert getattr(message, "metadata", None) == {"email_token": email.token}


@pytest.mark.parametrize(("subject", "first_name"), SUBJECTS_IN_ANY_SCRIPT)
def test_it_serializes_byte_for_byte_as_django_does(
    alice: User, subject: str, first_name: str
) -> None:
    email = email_in_any_script(
        alice, subject, first_name, "Hi {{first_name}},\n" + "long line " * 120
    )
    mime = build_message(email).message()

    assert serialize(mime) == mime.as_bytes(linesep="\r\n")


@pytest.mark.parametrize(
    "address",
    [
        "carol@example.org",
        "bounce+Ab-_9x@bounces.localhost",
        "o'hara.x!#$%&*/=?^`{|}~@Sub-Domain.EXAMPLE.com",
        "Carol <carol@example.org>",
        "zoë@example.org",
        "carol@bücher.example",
        '"quoted local"@example.org',
        "not an address",
    ],
)
def test_it_gives_the_envelope_the_address_django_would(address: str) -> None:
    assert envelope_address(address, "utf-8") == sanitize_address(address, "utf-8")


def test_it_refuses_an_envelope_address_django_refuses() -> None:
    too_long_label = "carol@" + "x" * 64 + ".example"
    with pytest.raises(UnicodeError):
        sanitize_address(too_long_label, "utf-8")
    with pytest.raises(UnicodeError):
        envelope_address(too_long_label, "utf-8")


@pytest.mark.django_db(False)
def test_it_folds_a_header_as_the_standard_library_does_from_its_shape() -> None:
    picks = random.Random(7)
    # Where lines may break, and characters that only count by their length.
    alphabet = "  ;,,abcXYZ09:()\\<>=\"'@./-_"
    for _ in range(3000):
        value = "".join(picks.choice(alphabet) for _ in range(picks.randint(0, 200)))
        name = picks.choice(["Subject", "List-Unsubscribe", "X"])
        for each in (policy.compat32, policy.compat32.clone(linesep="\r\n")):
            # Twice: the second time from the recipe the first one left.
            assert fold_like_its_shape(each, name, value) == each.fold_binary(name, value)
            assert fold_like_its_shape(each, name, value) == each.fold_binary(name, value)


def test_it_builds_a_group_with_each_problem_kept_to_its_own_email(alice: User) -> None:
    fine = scheduled_email(alice, to="a@example.org", body_html="<a href='https://x.io/'>x</a>")
    missing = scheduled_email(alice, to="b@example.org")
    # The field was there when the email was scheduled, and is gone now.
    Email.objects.filter(pk=missing.pk).update(template_body_text="Hi {{shoe_size}}")
    emails = list(Email.objects.select_related("person", "owner").order_by("pk"))

    built = build_messages(emails)

    assert [email.pk for email in emails] == [fine.pk, missing.pk]
    assert isinstance(built[1], MissingMergeField)
    assert not isinstance(built[0], Exception)
    assert built[0].to == ["a@example.org"]
    assert "/t/c/" in str(built[0].alternatives[0][0])
