"""Running the real `commandcenter` console script against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.db import connection

SCRIPT = str(Path(sys.executable).with_name("commandcenter"))


def test_database_url() -> str:
    """DATABASE_URL of the database this test runs on, for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": test_database_url(), **extra}


def run_script(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """`commandcenter ARGS…` in a child process; its data must be committed to be seen."""
    return subprocess.run(
        [SCRIPT, *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
