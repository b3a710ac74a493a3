"""Running the real `commandcenter` console script against the test database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from commandcenter.delivery.testing import subprocess_env

SCRIPT = str(Path(sys.executable).with_name("commandcenter"))


def run_script(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """`commandcenter ARGS…` in a child process; its data must be committed to be seen."""
    return subprocess.run(
        [SCRIPT, *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
