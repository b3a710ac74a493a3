"""Fixtures for the sender's tests: a real SMTP sink with settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from commandcenter.delivery.testing import SmtpSink
from commandcenter.delivery.tests.helpers import point_at


@pytest.fixture
def sink(settings: SettingsWrapper) -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        point_at(settings, running.port)
        yield running
