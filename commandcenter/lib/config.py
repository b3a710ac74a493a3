"""Strict parsers for settings read from the environment.

A bad value stops the process with a message that names the variable, instead of
running with a guess.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_url(name: str, default: str) -> str:
    raw = os.environ.get(name, "").strip() or default
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def secret_key(var_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into var/."""
    from_env = os.environ.get("SECRET_KEY", "").strip()
    if from_env:
        return from_env
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once must agree on one key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SMTP_SCHEMES = {"smtp": (False, False), "smtp+tls": (True, False), "smtp+ssl": (False, True)}


def email_settings(url: str) -> dict[str, object]:
    """Django email settings for an EMAIL_URL.

    smtp://user:pass@host:port, smtp+tls://… (STARTTLS), smtp+ssl://… (implicit TLS),
    anymail://provider?api_key=… for an ESP through django-anymail, locmem:// and console://.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if scheme in SMTP_SCHEMES:
        use_tls, use_ssl = SMTP_SCHEMES[scheme]
        if not parts.hostname:
            raise ImproperlyConfigured(f"EMAIL_URL needs a host: {url!r}")
        try:
            port = parts.port or (465 if use_ssl else 587 if use_tls else 25)
        except ValueError:
            raise ImproperlyConfigured(f"EMAIL_URL has a bad port: {url!r}") from None
        return {
            "EMAIL_BACKEND": "commandcenter.delivery.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname,
            "EMAIL_PORT": port,
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": use_tls,
            "EMAIL_USE_SSL": use_ssl,
            "EMAIL_TIMEOUT": int(query.get("timeout", "30")),
        }
    if scheme == "anymail":
        provider = parts.hostname or ""
        if not provider.isidentifier():
            raise ImproperlyConfigured(f"EMAIL_URL anymail://PROVIDER?… needs a provider: {url!r}")
        return {
            "EMAIL_BACKEND": f"anymail.backends.{provider}.EmailBackend",
            "ANYMAIL": {key.upper(): value for key, value in query.items()},
        }
    if scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    raise ImproperlyConfigured(
        f"EMAIL_URL must start with smtp://, smtp+tls://, smtp+ssl://, anymail://, locmem:// "
        f"or console://, got {url!r}"
    )


# A host name as EHLO may give it: dot-separated LDH labels (RFC 5321 §4.1.2 Domain).
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"(?=.{{1,253}}\Z){LABEL}(?:\.{LABEL})+\Z")


def helo_name(public_url: str) -> str:
    """EMAIL_HELO_NAME, else a name relays accept made from PUBLIC_URL's host.

    Relays refuse "localhost" and bare host names in EHLO, so: a dotted host name as it is;
    an IP address as an address literal ("[192.0.2.1]"); "localhost" or a bare name, the
    machine's fully qualified name when it has one, else the loopback address literal.
    """
    given = os.environ.get("EMAIL_HELO_NAME", "").strip()
    if given:
        if not (HOST_NAME.match(given) or _address_literal(given)):
            raise ImproperlyConfigured(
                f"EMAIL_HELO_NAME must be a fully qualified host name or an address literal "
                f"like [192.0.2.1], got {given!r}"
            )
        return given
    host = urlsplit(public_url).hostname or ""
    literal = _as_address_literal(host)
    if literal:
        return literal
    if HOST_NAME.match(host) and not _is_localhost(host):
        return host
    fqdn = socket.getfqdn()
    if HOST_NAME.match(fqdn) and not _is_localhost(fqdn):
        return fqdn
    return "[127.0.0.1]"


def _is_localhost(name: str) -> bool:
    return name.lower().rstrip(".").split(".")[0] == "localhost" or name.lower().endswith(
        (".localhost", ".localdomain")
    )


def _as_address_literal(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return ""
    return f"[{address}]" if address.version == 4 else f"[IPv6:{address}]"


def _address_literal(value: str) -> bool:
    if not (value.startswith("[") and value.endswith("]")):
        return False
    inner = value[1:-1]
    inner = inner[5:] if inner.lower().startswith("ipv6:") else inner
    return bool(_as_address_literal(inner))
