"""Where the app keeps its files. Plain Python: `commandcenter ingest` reads it before (and
often without) setting Django up."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def var_dir() -> Path:
    """COMMANDCENTER_VAR, else var/ beside the project."""
    return Path(os.environ.get("COMMANDCENTER_VAR", PROJECT_DIR / "var"))
