"""Tracking's settings: Django settings when set there (tests override them), else the
environment. Read on every hit, so each is worked out once and kept until a setting changes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from commandcenter.lib.config import env_bool


@lru_cache(maxsize=1)
def spool_dir() -> Path:
    configured = getattr(settings, "TRACKING_SPOOL_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "spool" / "tracking"


@lru_cache(maxsize=1)
def recording() -> bool:
    """TRACKING_RECORD=false: the endpoints still answer (pixel, redirect) but record nothing."""
    configured = getattr(settings, "TRACKING_RECORD", None)
    return env_bool("TRACKING_RECORD", True) if configured is None else bool(configured)


@lru_cache(maxsize=1)
def drain_in_web() -> bool:
    """Whether each web process drains the spool itself (else the worker or track-drain does)."""
    configured = getattr(settings, "TRACKING_DRAIN_IN_WEB", None)
    return env_bool("TRACKING_DRAIN_IN_WEB", True) if configured is None else bool(configured)


@receiver(setting_changed)
def _forget_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("TRACKING_") or setting == "VAR_DIR":
        for cached in (spool_dir, recording, drain_in_web):
            cached.cache_clear()
