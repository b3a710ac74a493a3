"""build_message: merge fields, escaping, headers, the VERP envelope sender."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.accounts.models import User
from commandcenter.delivery.message import build_message, verp_address
from commandcenter.delivery.tests.helpers import scheduled_email
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

    assert message.subject == "For <b>Carol</b> at your company"
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
    Email.objects.filter(pk=email.pk).update(subject="Your {{plan}}")
    email.refresh_from_db()

    with pytest.raises(MissingMergeField, match="plan"):
        build_message(email)


def test_it_uses_the_rep_as_envelope_sender_for_an_esp(alice: User) -> None:
    email = scheduled_email(alice)

    message = build_message(email, verp=False)

    assert message.from_email == "alice <alice@example.com>"
    assert "From" not in message.extra_headers
    assert getattr(message, "metadata", None) == {"email_token": email.token}
