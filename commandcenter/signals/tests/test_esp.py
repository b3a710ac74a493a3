"""ESP webhooks: real Postmark payloads posted to anymail's tracking URL become our events."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from commandcenter.accounts.models import User
from commandcenter.outbox.models import Email
from commandcenter.outbox.states import Status
from commandcenter.people.models import Suppression
from commandcenter.signals.tests.factories import delivered_email

URL = "/anymail/postmark/tracking/"
SECRET = "hook:s3cret-for-tests"


@pytest.fixture(autouse=True)
def webhook_secret(settings: Settings) -> None:
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}


def post(payload: dict[str, Any], secret: str = SECRET) -> int:
    auth = base64.b64encode(secret.encode()).decode()
    response = Client().post(
        URL,
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )
    return response.status_code


def bounce_payload(email: Email) -> dict[str, Any]:
    # As Postmark documents its bounce webhook, with our metadata.
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "Test",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"email_token": email.token},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist. "
        "Please try double-checking the recipient's email address for typos or unnecessary "
        "spaces.",
        "Email": email.to_address,
        "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Test subject",
        "Content": "<Full dump of bounce>",
    }


def test_it_bounces_the_email_of_a_postmark_hard_bounce(alice: User) -> None:
    email = delivered_email(alice)
    assert post(bounce_payload(email)) == 200
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert email.reason.startswith("userunknown: smtp;550 5.1.1")
    assert email.reason.endswith("(hard bounce)")
    assert Suppression.objects.filter(value=email.to_address, source="bounce").exists()
    [event] = email.events.filter(kind="bounced")
    assert json.loads(event.payload)["TypeCode"] == 1


def test_it_records_a_webhook_delivered_twice_once(alice: User) -> None:
    email = delivered_email(alice)
    assert post(bounce_payload(email)) == 200
    assert post(bounce_payload(email)) == 200
    assert email.events.filter(kind="bounced").count() == 1


def test_it_refuses_a_webhook_without_the_secret(alice: User) -> None:
    email = delivered_email(alice)
    assert post(bounce_payload(email), secret="hook:guess") == 400
    email.refresh_from_db()
    assert email.status == Status.DELIVERED


def test_it_moves_a_spam_complaint_to_spam_and_unsubscribes(alice: User) -> None:
    email = delivered_email(alice)
    payload = {
        "RecordType": "SpamComplaint",
        "MessageStream": "outbound",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "Metadata": {"email_token": email.token},
        "Description": "The subscriber explicitly marked this message as spam.",
        "Details": "Test spam complaint details",
        "Email": email.to_address,
        "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    }
    assert post(payload) == 200
    email.refresh_from_db()
    assert email.status == Status.SPAM
    assert email.person.unsubscribed_at is not None


def test_it_records_opens_and_deliveries_without_counting_them(alice: User) -> None:
    email = delivered_email(alice)
    delivery = {
        "RecordType": "Delivery",
        "MessageStream": "outbound",
        "ServerID": 23,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": email.to_address,
        "Tag": "welcome-email",
        "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {"email_token": email.token},
    }
    opened = {
        "RecordType": "Open",
        "MessageStream": "outbound",
        "FirstOpen": True,
        "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google"},
        "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc."},
        "Platform": "WebMail",
        "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
        "ReadSeconds": 5,
        "Geo": {},
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"email_token": email.token},
        "ReceivedAt": "2019-11-05T16:33:54.9070259Z",
        "Tag": "welcome-email",
        "Recipient": email.to_address,
    }
    assert post(delivery) == 200
    assert post(opened) == 200
    email.refresh_from_db()
    assert (email.status, email.opens) == (Status.DELIVERED, 0)
    kinds = set(email.events.values_list("kind", flat=True))
    assert {"delivered", "opened"} <= kinds


def test_it_finds_the_email_by_the_esp_message_id_recorded_at_send_time(alice: User) -> None:
    email = delivered_email(alice)
    email.events.filter(kind="sent").update(
        data={"anymail_status": {"message_id": "883953f4-6105-42a2-a16a-77a8eac79483"}}
    )
    payload = bounce_payload(email)
    payload["Metadata"] = {}
    assert post(payload) == 200
    email.refresh_from_db()
    assert email.status == Status.BOUNCED


def test_it_ignores_an_event_for_no_email_of_ours(alice: User) -> None:
    email = delivered_email(alice)
    payload = bounce_payload(email)
    payload["Metadata"] = {"email_token": "not-a-token"}
    assert post(payload) == 200
    email.refresh_from_db()
    assert email.status == Status.DELIVERED
