"""Failed sign-ins are throttled per account and per client address (django-axes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import translation

from commandcenter.accounts.models import User

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-ins for this account or from your address."
LOCKED_ZH = "此账户或您的地址登录失败次数过多。"
WRONG = "Please enter a correct username and password."


@dataclass
class Attempt:
    status: int
    body: str
    location: str
    signed_in: bool


def sign_in(username: str, password: str, address: str, **headers: str) -> Attempt:
    """One sign-in from a browser at `address`."""
    client = Client(REMOTE_ADDR=address, headers=headers)
    answer = client.post("/login/", {"username": username, "password": password})
    return Attempt(
        status=answer.status_code,
        body=answer.content.decode(),
        location=answer.get("Location", ""),
        signed_in="_auth_user_id" in client.session,
    )


def fail_until_the_limit(username: str, addresses: list[str]) -> None:
    for number in range(settings.AXES_FAILURE_LIMIT):
        failed = sign_in(username, f"wrong-{number}", addresses[number % len(addresses)])
        assert not failed.signed_in


def wait_out_the_cool_off() -> None:
    """Age every recorded failure past the cool-off, as the clock would."""
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - settings.AXES_COOLOFF_TIME
    )


def test_a_wrong_password_below_the_limit_is_only_a_wrong_password(alice: User) -> None:
    for number in range(settings.AXES_FAILURE_LIMIT - 1):
        failed = sign_in("alice", f"wrong-{number}", "198.51.100.1")
        assert failed.status == 200
        assert WRONG in failed.body

    right = sign_in("alice", "alice-pass", "198.51.100.1")

    assert right.location == reverse("web:home")
    assert right.signed_in


def test_it_locks_an_account_after_the_limit_from_any_address_and_says_why(alice: User) -> None:
    fail_until_the_limit("alice", ["198.51.100.1", "198.51.100.2", "198.51.100.3"])

    right = sign_in("alice", "alice-pass", "203.0.113.50")

    assert right.status == 429
    body = right.body
    assert LOCKED in body
    assert "Try again in 15 minutes." in body
    assert 'name="username"' in body  # still the sign-in page
    assert not right.signed_in


def test_it_lets_the_right_person_in_after_the_cool_off(alice: User) -> None:
    fail_until_the_limit("alice", ["198.51.100.1"])
    assert not sign_in("alice", "alice-pass", "198.51.100.9").signed_in

    wait_out_the_cool_off()
    right = sign_in("alice", "alice-pass", "198.51.100.9")

    assert right.location == reverse("web:home")
    assert right.signed_in


def test_it_locks_an_address_that_tries_many_accounts(alice: User, bob: User) -> None:
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(f"guess-{number}", "password", "192.0.2.66")

    from_there = sign_in("alice", "alice-pass", "192.0.2.66")
    elsewhere = sign_in("bob", "bob-pass", "192.0.2.77")

    assert from_there.status == 429
    assert not from_there.signed_in
    assert elsewhere.signed_in
    wait_out_the_cool_off()
    assert sign_in("alice", "alice-pass", "192.0.2.66").signed_in


def test_one_accounts_failures_do_not_lock_another(alice: User, bob: User) -> None:
    fail_until_the_limit("bob", ["198.51.100.1", "198.51.100.2"])

    alice_in = sign_in("alice", "alice-pass", "203.0.113.5")
    bob_locked = sign_in("bob", "bob-pass", "203.0.113.6")

    assert alice_in.signed_in
    assert bob_locked.status == 429


def test_ones_own_good_password_does_not_wipe_failures_against_another(
    alice: User, bob: User
) -> None:
    address = "198.51.100.20"
    for number in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("alice", f"wrong-{number}", address)
    assert sign_in("bob", "bob-pass", address).signed_in

    last_try = sign_in("alice", "wrong-again", address)

    assert last_try.status == 429


@pytest.fixture
def back_to_english_afterwards() -> Iterator[None]:
    # The locale middleware leaves the language of the last request active in this thread.
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.mark.usefixtures("back_to_english_afterwards")
def test_the_lockout_message_is_translated(alice: User) -> None:
    fail_until_the_limit("alice", ["198.51.100.1"])

    refused = sign_in("alice", "alice-pass", "198.51.100.1", accept_language="zh-hans")

    assert LOCKED_ZH in refused.body
