"""Django settings: everything an operator changes comes from the environment (see README)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from commandcenter.lib.config import (
    email_settings,
    env_bool,
    env_int,
    env_url,
    helo_name,
    secret_key,
)
from commandcenter.lib.paths import var_dir

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = var_dir()

SECRET_KEY = secret_key(VAR_DIR)
DEBUG = env_bool("DEBUG", False)
PUBLIC_URL = env_url("PUBLIC_URL", "http://127.0.0.1:8000")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "ninja",  # its templates and static files: the API docs page is served without a CDN
    "axes",
    "commandcenter.accounts",
    "commandcenter.people",
    "commandcenter.outbox",
    "commandcenter.mailtemplates",
    "commandcenter.delivery",
    "commandcenter.signals",
    "commandcenter.tracking",
    "commandcenter.campaigns",
    "commandcenter.tasks",
    "commandcenter.search",
    "commandcenter.demo",
    "commandcenter.api",
    "commandcenter.web",
]
# Apps that only serve web requests. `commandcenter ingest`, which an MTA starts once per
# message, leaves them out (commandcenter/settings_ingest.py): importing django-ninja and
# django-anymail alone took longer than the rest of its start-up.
WEB_ONLY_APPS = [
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "ninja",
    "axes",
    "commandcenter.api",
    "commandcenter.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for too many failures into the sign-in page's answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "commandcenter.urls"
WSGI_APPLICATION = "commandcenter.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Failed sign-ins (django-axes): after SIGNIN_FAILURE_LIMIT failures for one account, or
# from one client address, sign-in is refused for SIGNIN_COOLOFF_SECONDS after the last.
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(seconds=env_int("SIGNIN_COOLOFF_SECONDS", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Not reset by a success: one's own good password must not wipe the failures someone made
# against another account from the same address.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "commandcenter.web.views.account.signin_refused"
AXES_DISABLE_ACCESS_LOG = True


def _trusted_proxies() -> list[str]:
    """TRUSTED_PROXIES: addresses or networks, comma-separated (unset: a proxy on this host;
    empty: none)."""
    raw = os.environ.get("TRUSTED_PROXIES", "127.0.0.1,::1")
    proxies = [entry.strip() for entry in raw.split(",") if entry.strip()]
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES must be IP addresses or networks, comma-separated; "
                f"{proxy!r} is neither"
            ) from None
    return proxies


# The client's address is REMOTE_ADDR, which commandcenter/wsgi.py takes from the
# X-Forwarded-For of a trusted reverse proxy.
TRUSTED_PROXIES = _trusted_proxies()

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ]
        },
    }
]


# Lets several test runs share one PostgreSQL server without dropping each other's database.
TEST_DB_NAME = os.environ.get("TEST_DB_NAME", "").strip() or "test_commandcenter"


def _database() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'commandcenter.sqlite3'}"
    try:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=600))
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN
        # so two workers never deadlock upgrading a read lock; the timeout waits for the lock.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
        config["TEST"] = {"NAME": str(VAR_DIR / f"{TEST_DB_NAME}.sqlite3")}
    elif config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be sqlite:// or postgres://")
    else:
        config["CONN_HEALTH_CHECKS"] = True
        config["TEST"] = {"NAME": TEST_DB_NAME}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Delivery. Unset EMAIL_URL means the embedded mail catcher: nothing leaves the machine.
CATCHER_HOST = "127.0.0.1"
CATCHER_PORT = env_int("CATCHER_PORT", 8025, minimum=1)
CATCHER_DIR = VAR_DIR / "catcher"
MAIL_GOES_TO_CATCHER = not os.environ.get("EMAIL_URL", "").strip()
EMAIL_URL = os.environ.get("EMAIL_URL", "").strip() or f"smtp://{CATCHER_HOST}:{CATCHER_PORT}"
globals().update(email_settings(EMAIL_URL))
# The name our SMTP client gives in EHLO (see commandcenter/delivery/smtp.py).
EMAIL_HELO_NAME = helo_name(PUBLIC_URL)
# ESP webhooks (/anymail/<esp>/tracking/) demand HTTP basic auth "user:password". Unset, they
# refuse every request: the secret is then a random one that nobody knows.
ANYMAIL_WEBHOOK_SECRET = os.environ.get("ANYMAIL_WEBHOOK_SECRET", "").strip()
ANYMAIL = {
    **globals().get("ANYMAIL", {}),
    "WEBHOOK_SECRET": ANYMAIL_WEBHOOK_SECRET or f"closed:{secrets.token_urlsafe(32)}",
}
BOUNCE_DOMAIN = os.environ.get("BOUNCE_DOMAIN", "").strip() or "bounces.localhost"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "").strip() or "noreply@localhost"

# The sender (see commandcenter/delivery/sender.py).
IN_PROGRESS_LEASE_SECONDS = env_int("IN_PROGRESS_LEASE_SECONDS", 300, minimum=1)
SEND_LATE_LIMIT_SECONDS = env_int("SEND_LATE_LIMIT_SECONDS", 21600, minimum=1)
SEND_BATCH_SIZE = env_int("SEND_BATCH_SIZE", 100, minimum=1)
# Enrolments the campaign engine runs due steps for in one transaction.
CAMPAIGN_BATCH_SIZE = env_int("CAMPAIGN_BATCH_SIZE", 1000, minimum=1)
SEND_RETRY_BASE_SECONDS = env_int("SEND_RETRY_BASE_SECONDS", 60, minimum=1)
SEND_RETRY_WINDOW_SECONDS = env_int("SEND_RETRY_WINDOW_SECONDS", 86400, minimum=1)
SEND_MAX_ATTEMPTS = env_int("SEND_MAX_ATTEMPTS", 8, minimum=1)
# Handoffs recorded per commit (see commandcenter/delivery/sender.py).
SEND_HANDOFF_GROUP = env_int("SEND_HANDOFF_GROUP", 10, minimum=1)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "commandcenter" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# `serve` runs collectstatic; until then (tests, runserver) whitenoise finds the apps' files.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# TLS ends at the reverse proxy (README, "Behind a reverse proxy"). With an https PUBLIC_URL,
# cookies travel over https only, browsers are told to keep to https (HSTS), and a request
# the proxy marks "X-Forwarded-Proto: https" is a secure one.
HTTPS = urlsplit(PUBLIC_URL).scheme == "https"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000) if HTTPS else 0
CSRF_TRUSTED_ORIGINS = [f"{urlsplit(PUBLIC_URL).scheme}://{urlsplit(PUBLIC_URL).netloc}"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"commandcenter": {"handlers": ["console"], "level": "INFO"}},
}
