"""Tracking's settings: Django settings when set there (tests override them), else the
environment."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from commandcenter.lib.config import env_bool


def spool_dir() -> Path:
    configured = getattr(settings, "TRACKING_SPOOL_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "spool" / "tracking"


def recording() -> bool:
    """TRACKING_RECORD=false: the endpoints still answer (pixel, redirect) but record nothing."""
    configured = getattr(settings, "TRACKING_RECORD", None)
    return env_bool("TRACKING_RECORD", True) if configured is None else bool(configured)


def drain_in_web() -> bool:
    """Whether each web process drains the spool itself (else the worker or track-drain does)."""
    configured = getattr(settings, "TRACKING_DRAIN_IN_WEB", None)
    return env_bool("TRACKING_DRAIN_IN_WEB", True) if configured is None else bool(configured)
