"""The migration that stores API tokens hashed keeps existing users' tokens working."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from commandcenter.accounts.models import User
from commandcenter.api.auth import user_for_token

BEFORE = [("accounts", "0001_initial")]
AFTER = [("accounts", "0002_api_token_stored_hashed")]
PLAIN_TOKEN = "k3Vv0yq1ZQm9u2cZr8b6vXgq4Tn7sWl5aHfPjY0eR1c"


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh one reads the state just written


@pytest.fixture
def before_hashing(transactional_db: None) -> Iterator[MigrationExecutor]:
    try:
        yield migrate(BEFORE)
    finally:
        migrate(AFTER)


def test_a_plain_token_is_hashed_in_place_and_keeps_working(before_hashing) -> None:
    old_user = before_hashing.loader.project_state(BEFORE).apps.get_model("accounts", "User")
    old_user.objects.create(username="olga", email="olga@example.com", api_token=PLAIN_TOKEN)

    migrate(AFTER)

    olga = User.objects.get(username="olga")
    assert olga.api_token_hash == hashlib.sha256(PLAIN_TOKEN.encode()).hexdigest()
    assert user_for_token(PLAIN_TOKEN) == olga


def test_going_back_leaves_no_digest_usable_as_a_token(transactional_db: None) -> None:
    User.objects.create(username="olga", api_token_hash=hashlib.sha256(b"x").hexdigest())
    try:
        executor = migrate(BEFORE)
        old_user = executor.loader.project_state(BEFORE).apps.get_model("accounts", "User")
        token = old_user.objects.get(username="olga").api_token
        assert token and token != hashlib.sha256(b"x").hexdigest()
    finally:
        migrate(AFTER)
