"""Shared fixtures: named personas and helpers used across apps' tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

# Child processes of the tests (workers, `ingest`) neither listen for nor hand off inbound
# messages unless a test says so: tests share var/, and a worker of one test must not apply
# another test's message. signals/tests/test_ingest_handoff.py turns it on for itself.
os.environ["INGEST_SOCKET"] = ""

from commandcenter.accounts.models import User
from commandcenter.accounts.services import create_user

# Property tests check behaviour, not speed (make bench does): on a shared 2-core machine a
# per-example wall-clock deadline only makes them flaky.
hypothesis_settings.register_profile("commandcenter", deadline=None)
hypothesis_settings.load_profile("commandcenter")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # The production hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db: None) -> User:
    return create_user("alice", email="alice@example.com", password="alice-pass")


@pytest.fixture
def bob(db: None) -> User:
    return create_user("bob", email="bob@example.com", password="bob-pass")


@pytest.fixture
def admin(db: None) -> User:
    return create_user("ada", email="ada@example.com", password="ada-pass", admin=True)


@pytest.fixture
def inbound_smtp_port() -> Iterator[int]:
    """Our inbound SMTP listener (`commandcenter inbound-smtp`) on a free loopback port."""
    from commandcenter.delivery.testing import free_port
    from commandcenter.signals.smtp import listener

    port = free_port()
    server = listener("127.0.0.1", port)
    server.start()
    try:
        yield port
    finally:
        server.stop()
