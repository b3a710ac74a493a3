"""Settings for the sender benchmark's django-post-office run only (bench/sender.py).

The app's settings plus post_office, whose queue tables go into the scratch database the
benchmark names in DATABASE_URL. Never used by the app itself.
"""

from commandcenter.settings import *  # noqa: F403
from commandcenter.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "post_office"]
POST_OFFICE = {
    "BACKENDS": {"default": "django.core.mail.backends.smtp.EmailBackend"},
    "DEFAULT_PRIORITY": "medium",
    "BATCH_SIZE": 100,
    "LOG_LEVEL": 1,  # post_office's default: a log row for failures only
    "MESSAGE_ID_ENABLED": False,
}
