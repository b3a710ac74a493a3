"""`commandcenter ingest` starts lean: an MTA pays its start-up on every message.

Its settings are the app's own less the web-only apps (settings_ingest.py); the figures are
in `make bench BENCH_ARGS=startup`. These tests hold the line on what it loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from commandcenter import settings as app_settings
from commandcenter import settings_ingest
from commandcenter.accounts.models import User
from commandcenter.delivery.testing import subprocess_env
from commandcenter.outbox.states import Status
from commandcenter.signals.tests.factories import delivered_email, dsn, verp

ROOT = str(Path(django_settings.BASE_DIR))
# Modules that one inbound message does not need, and that cost the most to import.
HEAVY = ["ninja", "pydantic", "anymail", "requests", "granian", "aiosmtpd", "axes",
         "commandcenter.api", "commandcenter.web", "commandcenter.signals.esp"]  # fmt: skip

# The console script's own entry point, then what it left imported.
INGEST = """
import json, os, sys
from django.conf import settings
from commandcenter.cli import main
main(["commandcenter", *sys.argv[1:]])
loaded = [name for name in json.loads(os.environ["HEAVY"]) if name in sys.modules]
print(json.dumps({"loaded": loaded, "settings": settings.SETTINGS_MODULE}))
"""


def run_ingest(raw: bytes, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", INGEST, "ingest", *args],
        input=raw.decode(),
        env=subprocess_env(HEAVY=json.dumps(HEAVY), PYTHONPATH=ROOT, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_it_applies_a_bounce_without_loading_the_web_app(alice: User) -> None:
    email = delivered_email(alice)

    done = run_ingest(dsn(email), "--recipient", verp(email))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == f"bounce: {email.pk}"
    assert json.loads(lines[-1]) == {"loaded": [], "settings": "commandcenter.settings_ingest"}
    email.refresh_from_db()
    assert email.status == Status.BOUNCED


@pytest.mark.django_db(transaction=True)
def test_it_keeps_settings_an_operator_chose(alice: User) -> None:
    email = delivered_email(alice)
    chosen = "bench.settings_postoffice"  # the app's settings and one more app

    done = run_ingest(dsn(email), "--recipient", verp(email), DJANGO_SETTINGS_MODULE=chosen)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["settings"] == chosen


def test_its_settings_are_the_apps_own_with_fewer_apps() -> None:
    names = {name for name in dir(app_settings) if name.isupper()}
    different = {
        name for name in names if getattr(settings_ingest, name) is not getattr(app_settings, name)
    }
    assert different == {"INSTALLED_APPS"}
    assert set(settings_ingest.INSTALLED_APPS) < set(app_settings.INSTALLED_APPS)
    assert "commandcenter.signals" in settings_ingest.INSTALLED_APPS
